import {expect, test} from 'vitest';
import {renderHelp, wantsHelp} from './help.js';
import {OPTION_BY_FLAG, OPTIONS, VALUE_OPTIONS} from './options.js';
import {envName, isAliasOption, isHidden, isValueOption} from './option-spec.js';

/** Every env name zero-cache 0.25.9 reads for its options (from its --help and hidden options). */
const ZERO_CACHE_ENV_NAMES = `
  ZERO_UPSTREAM_DB ZERO_UPSTREAM_TYPE ZERO_UPSTREAM_MAX_CONNS ZERO_UPSTREAM_MAX_CONNS_PER_WORKER
  ZERO_PUSH_URL ZERO_PUSH_API_KEY ZERO_PUSH_FORWARD_COOKIES ZERO_MUTATE_URL ZERO_MUTATE_API_KEY
  ZERO_MUTATE_FORWARD_COOKIES ZERO_GET_QUERIES_URL ZERO_GET_QUERIES_API_KEY
  ZERO_GET_QUERIES_FORWARD_COOKIES ZERO_QUERY_URL ZERO_QUERY_API_KEY ZERO_QUERY_FORWARD_COOKIES
  ZERO_CVR_DB ZERO_CVR_MAX_CONNS ZERO_CVR_MAX_CONNS_PER_WORKER
  ZERO_CVR_GARBAGE_COLLECTION_INACTIVITY_THRESHOLD_HOURS
  ZERO_CVR_GARBAGE_COLLECTION_INITIAL_INTERVAL_SECONDS ZERO_CVR_GARBAGE_COLLECTION_INITIAL_BATCH_SIZE
  ZERO_QUERY_HYDRATION_STATS ZERO_ENABLE_QUERY_PLANNER ZERO_YIELD_THRESHOLD_MS ZERO_CHANGE_DB
  ZERO_CHANGE_MAX_CONNS ZERO_REPLICA_FILE ZERO_REPLICA_VACUUM_INTERVAL_HOURS
  ZERO_REPLICA_PAGE_CACHE_SIZE_KIB ZERO_LOG_LEVEL ZERO_LOG_FORMAT ZERO_LOG_SLOW_ROW_THRESHOLD
  ZERO_LOG_SLOW_HYDRATE_THRESHOLD ZERO_LOG_IVM_SAMPLING ZERO_APP_ID ZERO_APP_PUBLICATIONS
  ZERO_SHARD_ID ZERO_SHARD_NUM ZERO_AUTH_JWK ZERO_AUTH_JWKS_URL ZERO_AUTH_SECRET ZERO_PORT
  ZERO_CHANGE_STREAMER_URI ZERO_CHANGE_STREAMER_MODE ZERO_CHANGE_STREAMER_PORT
  ZERO_CHANGE_STREAMER_ADDRESS ZERO_CHANGE_STREAMER_PROTOCOL
  ZERO_CHANGE_STREAMER_DISCOVERY_INTERFACE_PREFERENCES ZERO_CHANGE_STREAMER_STARTUP_DELAY_MS
  ZERO_TASK_ID ZERO_PER_USER_MUTATION_LIMIT_MAX ZERO_PER_USER_MUTATION_LIMIT_WINDOW_MS
  ZERO_NUM_SYNC_WORKERS ZERO_AUTO_RESET ZERO_ADMIN_PASSWORD ZERO_WEBSOCKET_COMPRESSION
  ZERO_WEBSOCKET_COMPRESSION_OPTIONS ZERO_LITESTREAM_EXECUTABLE ZERO_LITESTREAM_CONFIG_PATH
  ZERO_LITESTREAM_LOG_LEVEL ZERO_LITESTREAM_BACKUP_URL ZERO_LITESTREAM_ENDPOINT ZERO_LITESTREAM_PORT
  ZERO_LITESTREAM_CHECKPOINT_THRESHOLD_MB ZERO_LITESTREAM_MIN_CHECKPOINT_PAGE_COUNT
  ZERO_LITESTREAM_MAX_CHECKPOINT_PAGE_COUNT ZERO_LITESTREAM_INCREMENTAL_BACKUP_INTERVAL_MINUTES
  ZERO_LITESTREAM_SNAPSHOT_BACKUP_INTERVAL_HOURS ZERO_LITESTREAM_RESTORE_PARALLELISM
  ZERO_LITESTREAM_MULTIPART_CONCURRENCY ZERO_LITESTREAM_MULTIPART_SIZE ZERO_STORAGE_DB_TMP_DIR
  ZERO_INITIAL_SYNC_TABLE_COPY_WORKERS ZERO_INITIAL_SYNC_PROFILE_COPY ZERO_TARGET_CLIENT_ROW_COUNT
  ZERO_LAZY_STARTUP ZERO_SERVER_VERSION ZERO_ENABLE_TELEMETRY ZERO_CLOUD_EVENT_SINK_ENV
  ZERO_CLOUD_EVENT_EXTENSION_OVERRIDES_ENV
`
  .split(/\s+/)
  .filter(Boolean);

/** Those of 1.9.0's new options that zcache reads (docs/zero-1.x-api-server-and-config.md §B1). */
const ZERO_CACHE_19_ENV_NAMES = `
  ZERO_MUTATE_ALLOWED_CLIENT_HEADERS ZERO_MUTATE_ALLOWED_REQUEST_HEADERS
  ZERO_QUERY_ALLOWED_CLIENT_HEADERS ZERO_QUERY_ALLOWED_REQUEST_HEADERS
  ZERO_PUSH_ALLOWED_CLIENT_HEADERS ZERO_PUSH_ALLOWED_REQUEST_HEADERS
  ZERO_GET_QUERIES_ALLOWED_CLIENT_HEADERS ZERO_GET_QUERIES_ALLOWED_REQUEST_HEADERS
  ZERO_AUTH_ISSUER ZERO_AUTH_AUDIENCE ZERO_AUTH_REVALIDATE_INTERVAL_SECONDS
  ZERO_AUTH_RETRANSFORM_INTERVAL_SECONDS ZERO_ENABLE_CRUD_MUTATIONS ZERO_WEBSOCKET_MAX_PAYLOAD_BYTES
`
  .split(/\s+/)
  .filter(Boolean);

test('the table has exactly zero-cache 0.25.9 options, the 1.9.0 ones zcache reads, and its own', () => {
  const zeroNames = OPTIONS.map(envName).filter((name) => name.startsWith('ZERO_'));
  expect([...zeroNames].sort()).toEqual(
    [...ZERO_CACHE_ENV_NAMES, ...ZERO_CACHE_19_ENV_NAMES].sort(),
  );
  const own = VALUE_OPTIONS.filter((spec) => spec.zcacheOnly).map(envName);
  expect([...own].sort()).toEqual(
    [
      'ZCACHE_CVR_ASYNC_COMMIT',
      'ZCACHE_DATA_DIR',
      'ZCACHE_EMBEDDED_PG_PORT',
      'ZCACHE_KEEPALIVE_TIMEOUT_MS',
      'ZCACHE_BACKUP_INTERVAL_MS',
      'ZCACHE_CHANGE_STREAMER_SECRET',
      'ZCACHE_CHANGE_STREAMER_BIND_ADDRESS',
      'ZCACHE_CHANGE_STREAMER_ACK_TIMEOUT_MS',
      'ZCACHE_CHANGE_STREAMER_MAX_CONNECTIONS',
      'ZCACHE_API_SERVER_TIMEOUT_MS',
      'ZCACHE_CHANGE_LOG_RETENTION_MS',
      'ZCACHE_MAX_QUERIES_PER_CLIENT_GROUP',
      'ZCACHE_MAX_CLIENTS_PER_CLIENT_GROUP',
      'ZCACHE_MAX_QUERY_RECORDS_PER_CLIENT_GROUP',
      'ZCACHE_MAX_CONNECTIONS_PER_SYNC_WORKER',
      'ZCACHE_MAX_AST_DEPTH',
      'ZCACHE_MAX_AST_NODES',
      'ZCACHE_MAX_IN_LIST_LENGTH',
    ].sort(),
  );
});

test('env names are the prefix plus the flag in SNAKE_CASE', () => {
  expect(envName(OPTION_BY_FLAG.get('cvr-garbage-collection-initial-batch-size')!)).toBe(
    'ZERO_CVR_GARBAGE_COLLECTION_INITIAL_BATCH_SIZE',
  );
  expect(envName(OPTION_BY_FLAG.get('data-dir')!)).toBe('ZCACHE_DATA_DIR');
});

test('flags and config keys are unique', () => {
  expect(OPTION_BY_FLAG.size).toBe(OPTIONS.length);
  expect(new Set(VALUE_OPTIONS.map((spec) => spec.key)).size).toBe(VALUE_OPTIONS.length);
});

test('every alias sets an existing option of the table', () => {
  for (const alias of OPTIONS.filter(isAliasOption)) {
    const target = OPTION_BY_FLAG.get(alias.aliasOf);
    expect(target && isValueOption(target), alias.flag).toBe(true);
  }
});

test('enum defaults are among their values and defaults have the declared type', () => {
  for (const spec of VALUE_OPTIONS) {
    if (spec.default === undefined) {
      continue;
    }
    const expected = {'string[]': 'object', enum: 'string'}[spec.type as string] ?? spec.type;
    expect(typeof spec.default, spec.flag).toBe(expected);
    if (spec.type === 'enum') {
      expect(spec.values, spec.flag).toContain(spec.default);
    }
  }
});

test('help lists every non-hidden option by flag and env name', () => {
  const help = renderHelp();
  const visible = OPTIONS.filter((spec) => !isHidden(spec));
  expect(visible.length).toBeGreaterThan(60);
  for (const spec of visible) {
    expect(help).toContain(`  --${spec.flag} <`);
    expect(help).toContain(envName(spec));
  }
});

test('help leaves out hidden and deprecated options', () => {
  const help = renderHelp();
  for (const flag of ['upstream-type', 'shard-num', 'push-url', 'auth-secret', 'shard-id']) {
    expect(help).not.toContain(`--${flag} `);
  }
});

test('help shows types and defaults, derived ones included', () => {
  const help = renderHelp();
  expect(help).toContain('  --port <integer>\n      ZERO_PORT, default: 4848');
  expect(help).toContain(
    '--log-level <debug|info|warn|error>\n      ZERO_LOG_LEVEL, default: info',
  );
  expect(help).toContain('ZERO_CHANGE_STREAMER_PORT, default: --port + 1');
  expect(help).toContain('ZCACHE_DATA_DIR, default: ./zero-data');
});

test('help lines are at most 100 characters', () => {
  const tooLong = renderHelp()
    .split('\n')
    .filter((line) => line.length > 100);
  expect(tooLong).toEqual([]);
});

test('--help and -h ask for help', () => {
  expect(wantsHelp(['--port', '1', '--help'])).toBe(true);
  expect(wantsHelp(['-h'])).toBe(true);
  expect(wantsHelp(['--port', '1'])).toBe(false);
});
