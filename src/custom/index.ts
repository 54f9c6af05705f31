/**
 * custom/: HTTP calls to the app API server: query transforms (ZERO_QUERY_URL) and push forwarding
 * (ZERO_MUTATE_URL), URL allow-lists and header forwarding. (Not built yet.)
 */
export {};
