/**
 * custom/: calls to the app's API server — custom query transforms (ZERO_QUERY_URL) and push
 * forwarding of custom mutations (ZERO_MUTATE_URL) — with the URL allow-list, the request
 * envelope and the failure shapes of §7.
 */
export {callApiServer, type ApiServerAuth, type ApiServerTarget} from './api-server-call.js';
export {EndpointAllowList, type EndpointChoice} from './endpoint-url.js';
export {PushForwarder, type PushForwarderOptions, type PushingClient} from './push-forwarder.js';
export {QueryTransformer, type CustomQuery, type TransformResult} from './query-transformer.js';
