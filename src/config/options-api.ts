import type {OptionSpec} from './option-spec.js';

export const APP_OPTIONS = [
  {
    key: 'app.id',
    flag: 'app-id',
    type: 'string',
    default: 'zero',
    help:
      'Identifies the app. Apps sharing an upstream database are isolated: app metadata lives ' +
      'in the schema of this name, per-shard data in "{app-id}_{shard-num}", and CVR and ' +
      'change data in "{app-id}_{shard-num}/cvr" and "/cdc". Because it names replication ' +
      'slots, only lower-case letters, digits and "_" are allowed.',
  },
  {
    key: 'app.publications',
    flag: 'app-publications',
    type: 'string[]',
    default: [],
    help:
      'Postgres publications choosing the tables and columns to replicate; names may not start ' +
      'with "_" (reserved). Empty: zcache creates "_{app-id}_public_{shard-num}" for all tables ' +
      'of schema public. Changing the set resyncs the replica.',
  },
  {
    flag: 'shard-id',
    rejected: 'use ZERO_SHARD_NUM (--shard-num) to pick a shard, and ZERO_APP_ID to name the app',
  },
  {
    key: 'shard.num',
    flag: 'shard-num',
    type: 'number',
    integer: true,
    min: 0,
    default: 0,
    hidden: true,
    help:
      'The shard number of the app. Shards are functionally identical until data sharding ' +
      'exists; available for testing.',
  },
] as const satisfies readonly OptionSpec[];

const URL_PATTERN_HELP =
  'Values are URLPattern patterns (comma-separated), e.g. https://api.example.com/x or ' +
  'https://*.example.com/:version/x; query strings and fragments are ignored when matching. ' +
  'A client may name its own URL, which must match one of them; otherwise the first is used.';

export const CUSTOM_ENDPOINT_OPTIONS = [
  {
    key: 'mutate.url',
    flag: 'mutate-url',
    type: 'string[]',
    help: 'The API server endpoint that receives pushed custom mutations. ' + URL_PATTERN_HELP,
  },
  {
    key: 'mutate.apiKey',
    flag: 'mutate-api-key',
    type: 'string',
    secret: true,
    help: 'Secret sent to the mutate endpoint so it can tell that the call comes from zero-cache.',
  },
  {
    key: 'mutate.forwardCookies',
    flag: 'mutate-forward-cookies',
    type: 'boolean',
    default: false,
    help: "Forward the client's cookies (e.g. auth cookies) to the mutate endpoint.",
  },
  {
    key: 'mutate.allowedClientHeaders',
    flag: 'mutate-allowed-client-headers',
    type: 'string[]',
    help:
      'Headers (comma-separated names, any case) a client may ask to send with its pushes ' +
      "(1.x clients' mutateHeaders) that are forwarded to the mutate endpoint. Unset: none.",
  },
  {
    key: 'mutate.allowedRequestHeaders',
    flag: 'mutate-allowed-request-headers',
    type: 'string[]',
    help:
      "Headers of the client's WebSocket upgrade request (e.g. set by a proxy) forwarded to the " +
      'mutate endpoint. Unset: none.',
  },
  {
    key: 'query.url',
    flag: 'query-url',
    type: 'string[]',
    help:
      'The API server endpoint that turns named queries into ZQL for syncing. ' + URL_PATTERN_HELP,
  },
  {
    key: 'query.apiKey',
    flag: 'query-api-key',
    type: 'string',
    secret: true,
    help: 'Secret sent to the query endpoint so it can tell that the call comes from zero-cache.',
  },
  {
    key: 'query.forwardCookies',
    flag: 'query-forward-cookies',
    type: 'boolean',
    default: false,
    help: "Forward the client's cookies (e.g. auth cookies) to the query endpoint.",
  },
  {
    key: 'query.allowedClientHeaders',
    flag: 'query-allowed-client-headers',
    type: 'string[]',
    help:
      "Headers a client may ask to send with its query transforms (1.x clients' queryHeaders) " +
      'that are forwarded to the query endpoint. Unset: none.',
  },
  {
    key: 'query.allowedRequestHeaders',
    flag: 'query-allowed-request-headers',
    type: 'string[]',
    help:
      "Headers of the client's WebSocket upgrade request forwarded to the query endpoint. " +
      'Unset: none.',
  },
  {
    flag: 'push-url',
    aliasOf: 'mutate-url',
    deprecated: 'use ZERO_MUTATE_URL (--mutate-url) instead',
    overridesTarget: true,
  },
  {
    flag: 'push-api-key',
    aliasOf: 'mutate-api-key',
    deprecated: 'use ZERO_MUTATE_API_KEY (--mutate-api-key) instead',
  },
  {
    flag: 'push-forward-cookies',
    aliasOf: 'mutate-forward-cookies',
    deprecated: 'use ZERO_MUTATE_FORWARD_COOKIES (--mutate-forward-cookies) instead',
  },
  {
    flag: 'push-allowed-client-headers',
    aliasOf: 'mutate-allowed-client-headers',
    deprecated: 'use ZERO_MUTATE_ALLOWED_CLIENT_HEADERS instead',
  },
  {
    flag: 'push-allowed-request-headers',
    aliasOf: 'mutate-allowed-request-headers',
    deprecated: 'use ZERO_MUTATE_ALLOWED_REQUEST_HEADERS instead',
  },
  {
    flag: 'get-queries-allowed-client-headers',
    aliasOf: 'query-allowed-client-headers',
    deprecated: 'use ZERO_QUERY_ALLOWED_CLIENT_HEADERS instead',
  },
  {
    flag: 'get-queries-allowed-request-headers',
    aliasOf: 'query-allowed-request-headers',
    deprecated: 'use ZERO_QUERY_ALLOWED_REQUEST_HEADERS instead',
  },
  {
    flag: 'get-queries-url',
    aliasOf: 'query-url',
    deprecated: 'use ZERO_QUERY_URL (--query-url) instead',
  },
  {
    flag: 'get-queries-api-key',
    aliasOf: 'query-api-key',
    deprecated: 'use ZERO_QUERY_API_KEY (--query-api-key) instead',
  },
  {
    flag: 'get-queries-forward-cookies',
    aliasOf: 'query-forward-cookies',
    deprecated: 'use ZERO_QUERY_FORWARD_COOKIES (--query-forward-cookies) instead',
  },
] as const satisfies readonly OptionSpec[];

const JWT_DEPRECATION =
  'authenticate in your API server (cookies or an auth token) instead; ' +
  'see https://zero.rocicorp.dev/docs/auth';

export const AUTH_OPTIONS = [
  {
    key: 'auth.jwk',
    flag: 'auth-jwk',
    type: 'string',
    secret: true,
    deprecated: JWT_DEPRECATION,
    help: 'Public key (JWK) that verifies client JWTs. Set at most one of the auth-* options.',
  },
  {
    key: 'auth.jwksUrl',
    flag: 'auth-jwks-url',
    type: 'string',
    deprecated: JWT_DEPRECATION,
    help: 'URL of a JWK set that verifies client JWTs. Set at most one of the auth-* options.',
  },
  {
    key: 'auth.secret',
    flag: 'auth-secret',
    type: 'string',
    secret: true,
    deprecated: JWT_DEPRECATION,
    help: 'Symmetric key that verifies client JWTs. Set at most one of the auth-* options.',
  },
  {
    key: 'auth.issuer',
    flag: 'auth-issuer',
    type: 'string',
    help:
      'With JWT verification (ZERO_AUTH_JWK, _JWKS_URL or _SECRET, deprecated): the `iss` a ' +
      'token must carry; another or none is refused.',
  },
  {
    key: 'auth.audience',
    flag: 'auth-audience',
    type: 'string',
    help:
      'With JWT verification (ZERO_AUTH_JWK, _JWKS_URL or _SECRET, deprecated): the `aud` a ' +
      'token must carry; another or none is refused.',
  },
  {
    key: 'auth.revalidateIntervalSeconds',
    flag: 'auth-revalidate-interval-seconds',
    type: 'number',
    min: 1,
    default: 300,
    help:
      "Seconds between re-checks of each connection's credentials with the query endpoint (an " +
      'empty transform request, as 1.x; also made when a client connects): a 401 or 403 closes ' +
      'that connection with the error; an unreachable or failing endpoint closes nothing.',
  },
  {
    key: 'auth.retransformIntervalSeconds',
    flag: 'auth-retransform-interval-seconds',
    type: 'number',
    min: 1,
    default: 300,
    help:
      "Seconds between re-transforms of each connected client group's custom queries with its " +
      'current credentials (1.x): a query the API server now answers differently is rebuilt; ' +
      'a failed call is logged and tried again at the next interval.',
  },
  {
    key: 'enableCrudMutations',
    flag: 'enable-crud-mutations',
    type: 'boolean',
    default: true,
    help:
      'Accept legacy CRUD mutations (z.mutate.<table>.insert/update/delete without custom ' +
      'mutators). false: a CRUD push is refused with InvalidPush.',
  },
  {
    key: 'perUserMutationLimit.max',
    flag: 'per-user-mutation-limit-max',
    type: 'number',
    integer: true,
    min: 0,
    help:
      'Most CRUD mutations one user may make within --per-user-mutation-limit-window-ms. ' +
      'Unset: no limit.',
  },
  {
    key: 'perUserMutationLimit.windowMs',
    flag: 'per-user-mutation-limit-window-ms',
    type: 'number',
    min: 1,
    default: 60_000,
    help: 'The sliding window, in ms, of --per-user-mutation-limit-max.',
  },
] as const satisfies readonly OptionSpec[];
