/**
 * custom/: calls to the app's API server — custom query transforms (ZERO_QUERY_URL) and, later,
 * push forwarding (ZERO_MUTATE_URL) — with the request envelope and failure shapes of §7.
 */
export {callApiServer, type ApiServerAuth, type ApiServerTarget} from './api-server-call.js';
export {QueryTransformer, type CustomQuery, type TransformResult} from './query-transformer.js';
