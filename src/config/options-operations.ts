import type {OptionSpec} from './option-spec.js';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export const LOG_OPTIONS = [
  {
    key: 'log.level',
    flag: 'log-level',
    type: 'enum',
    values: LOG_LEVELS,
    default: 'info',
    help: 'The least severe log level that is written.',
  },
  {
    key: 'log.format',
    flag: 'log-format',
    type: 'enum',
    values: ['text', 'json'],
    default: 'text',
    help: '"text" for people reading a console, "json" for structured-logging services.',
  },
  {
    key: 'log.slowRowThreshold',
    flag: 'log-slow-row-threshold',
    type: 'number',
    min: 0,
    default: 2,
    help: 'Milliseconds after which reading one row from a table source is logged as slow.',
  },
  {
    key: 'log.slowHydrateThreshold',
    flag: 'log-slow-hydrate-threshold',
    type: 'number',
    min: 0,
    default: 100,
    help: 'Milliseconds after which a query hydration is logged as slow.',
  },
  {
    key: 'log.ivmSampling',
    flag: 'log-ivm-sampling',
    type: 'number',
    integer: true,
    min: 0,
    default: 5000,
    help: 'Collect IVM metrics for 1 in this many requests.',
  },
] as const satisfies readonly OptionSpec[];

export const LITESTREAM_OPTIONS = [
  {
    key: 'litestream.executable',
    flag: 'litestream-executable',
    type: 'string',
    help: 'Path of the litestream executable that zero-cache uses to back up and restore the replica.',
  },
  {
    key: 'litestream.configPath',
    flag: 'litestream-config-path',
    type: 'string',
    default: './src/services/litestream/config.yml',
    help: 'Path of the litestream YAML config, which may reference ${ENV} variables.',
  },
  {
    key: 'litestream.logLevel',
    flag: 'litestream-log-level',
    type: 'enum',
    values: LOG_LEVELS,
    default: 'warn',
    help: 'The least severe level of backup and restore logs.',
  },
  {
    key: 'litestream.backupURL',
    flag: 'litestream-backup-url',
    type: 'string',
    help:
      'Where the replication-manager backs up the replica, usually an s3:// URL. View-syncers ' +
      'learn it from the replication-manager.',
  },
  {
    key: 'litestream.endpoint',
    flag: 'litestream-endpoint',
    type: 'string',
    help:
      'Endpoint URL of an S3-compatible store other than AWS. The replication-manager and the ' +
      'view-syncers must use the same one.',
  },
  {
    key: 'litestream.port',
    flag: 'litestream-port',
    type: 'number',
    integer: true,
    min: 1,
    max: 65535,
    derived: '--port + 2',
    help: 'Port of the backup metrics, which tell up to where the change log may be purged.',
  },
  {
    key: 'litestream.checkpointThresholdMB',
    flag: 'litestream-checkpoint-threshold-mb',
    type: 'number',
    min: 0,
    default: 40,
    help:
      'WAL size, in MB, at which the replica is checkpointed. Smaller: faster reads, more ' +
      'files to download on restore.',
  },
  {
    key: 'litestream.minCheckpointPageCount',
    flag: 'litestream-min-checkpoint-page-count',
    type: 'number',
    integer: true,
    min: 0,
    derived: '--litestream-checkpoint-threshold-mb * 250',
    help: 'WAL pages at which a PASSIVE checkpoint (one that never blocks writers) is tried.',
  },
  {
    key: 'litestream.maxCheckpointPageCount',
    flag: 'litestream-max-checkpoint-page-count',
    type: 'number',
    integer: true,
    min: 0,
    derived: '--litestream-min-checkpoint-page-count * 10',
    help: 'WAL pages at which a RESTART checkpoint blocks writers until done. 0 turns them off.',
  },
  {
    key: 'litestream.incrementalBackupIntervalMinutes',
    flag: 'litestream-incremental-backup-interval-minutes',
    type: 'number',
    min: 0,
    default: 15,
    help:
      'Minutes between incremental backups. Shorter: less to replay when a view-syncer ' +
      'starts, more files to restore.',
  },
  {
    key: 'litestream.snapshotBackupIntervalHours',
    flag: 'litestream-snapshot-backup-interval-hours',
    type: 'number',
    min: 0,
    default: 12,
    help:
      'Hours between full snapshot backups. Longer: less bandwidth, slower restores; fine for ' +
      'large databases with few writes.',
  },
  {
    key: 'litestream.restoreParallelism',
    flag: 'litestream-restore-parallelism',
    type: 'number',
    integer: true,
    min: 1,
    default: 48,
    help: 'WAL files downloaded in parallel when restoring the replica.',
  },
  {
    key: 'litestream.multipartConcurrency',
    flag: 'litestream-multipart-concurrency',
    type: 'number',
    integer: true,
    min: 1,
    default: 48,
    help:
      'Snapshot parts uploaded in parallel by the replication-manager. Each part in flight is ' +
      'held in memory, so zcache uploads at most 256 MiB of parts at once whatever this says.',
  },
  {
    key: 'litestream.multipartSize',
    flag: 'litestream-multipart-size',
    type: 'number',
    integer: true,
    min: 1,
    default: 16 * 1024 * 1024,
    help:
      'Bytes per part of a snapshot upload; a larger snapshot is uploaded in parts. S3 needs at ' +
      'least 5 MiB, so a smaller value uses 5 MiB. An upload holds a few parts in memory at once.',
  },
] as const satisfies readonly OptionSpec[];

export const TELEMETRY_OPTIONS = [
  {
    key: 'enableTelemetry',
    flag: 'enable-telemetry',
    type: 'boolean',
    default: true,
    help: 'Send anonymous usage data. DO_NOT_TRACK also turns it off.',
  },
  {
    key: 'cloudEvent.sinkEnv',
    flag: 'cloud-event-sink-env',
    type: 'string',
    help:
      'Name of an env variable holding the URI of a CloudEvents sink (e.g. K_SINK of a knative ' +
      'SinkBinding). Zero events are then published to it, with --task-id as their source.',
  },
  {
    key: 'cloudEvent.extensionOverridesEnv',
    flag: 'cloud-event-extension-overrides-env',
    type: 'string',
    help:
      'Name of an env variable holding JSON with an "extensions" object of attributes to add ' +
      'to or override on outgoing CloudEvents (e.g. K_CE_OVERRIDES).',
  },
] as const satisfies readonly OptionSpec[];

export const ZCACHE_OPTIONS = [
  {
    key: 'dataDir',
    flag: 'data-dir',
    type: 'string',
    default: './zero-data',
    zcacheOnly: true,
    help: 'Folder of the embedded Postgres that zcache starts when --upstream-db is unset.',
  },
  {
    key: 'embeddedPgPort',
    flag: 'embedded-pg-port',
    type: 'number',
    integer: true,
    min: 1,
    max: 65535,
    default: 5488,
    zcacheOnly: true,
    help: 'Port of the embedded Postgres that zcache starts when --upstream-db is unset.',
  },
  {
    key: 'keepaliveTimeoutMs',
    flag: 'keepalive-timeout-ms',
    type: 'number',
    integer: true,
    min: 100,
    default: 20_000,
    zcacheOnly: true,
    help:
      'Once a load balancer has called /keepalive, how long zcache waits for the next call ' +
      'before it drains and exits (as zero-cache does after 20 s).',
  },
  {
    key: 'backupIntervalMs',
    flag: 'backup-interval-ms',
    type: 'number',
    integer: true,
    min: 100,
    default: 60_000,
    zcacheOnly: true,
    help:
      'How often a replication-manager with --litestream-backup-url uploads a snapshot of its ' +
      'replica (only when it changed). New view-syncers restore the latest one and catch up from ' +
      'the change log, which is kept back to it.',
  },
  {
    key: 'changeStreamer.secret',
    flag: 'change-streamer-secret',
    type: 'string',
    secret: true,
    zcacheOnly: true,
    help:
      'Shared secret of the change-streamer port, which carries every replicated row. Set the ' +
      'same value on the replication-manager (which then refuses requests without it, with 401) ' +
      'and on every view-syncer (which sends it). Unset: anyone reaching the port can read it.',
  },
  {
    key: 'changeStreamer.bindAddress',
    flag: 'change-streamer-bind-address',
    type: 'string',
    zcacheOnly: true,
    help:
      "The address the replication-manager's change-streamer listens on, e.g. a private " +
      'network address. Unset: every interface, so that view-syncers on other hosts reach it; ' +
      'keep the port internal.',
  },
  {
    key: 'changeStreamer.ackTimeoutMs',
    flag: 'change-streamer-ack-timeout-ms',
    type: 'number',
    integer: true,
    min: 20_000,
    default: 300_000,
    zcacheOnly: true,
    help:
      'How long the replication-manager waits on a view-syncer that holds back the change-log ' +
      'purge: a subscriber owing an ack, or a snapshot reservation never kept alive (every 10 ' +
      's while restoring), is dropped after it; the view-syncer resubscribes or restores again.',
  },
  {
    key: 'changeStreamer.maxConnections',
    flag: 'change-streamer-max-connections',
    type: 'number',
    integer: true,
    min: 1,
    default: 256,
    zcacheOnly: true,
    help:
      'Connections the change-streamer serves at once (each view-syncer uses one, two while ' +
      'it starts); more are refused with 503.',
  },
  {
    key: 'changeLogRetentionMs',
    flag: 'change-log-retention-ms',
    type: 'number',
    integer: true,
    min: 0,
    default: 600_000,
    zcacheOnly: true,
    help:
      'How long a replication-manager keeps changes in its log for view-syncers that are away ' +
      '(restarting, cut off): one back within this time resumes where it was instead of ' +
      'restoring the latest backup. The log is never purged past a backup, a connected ' +
      "view-syncer's position or what the manager's replica holds durably, whatever this says.",
  },
  {
    key: 'apiServerTimeoutMs',
    flag: 'api-server-timeout-ms',
    type: 'number',
    integer: true,
    min: 100,
    default: 30_000,
    zcacheOnly: true,
    help:
      'How long a call to the API server (ZERO_QUERY_URL, ZERO_MUTATE_URL) may take before it ' +
      'fails with reason "timeout" (zero-cache waits forever).',
  },
  {
    key: 'maxQueriesPerClientGroup',
    flag: 'max-queries-per-client-group',
    type: 'number',
    integer: true,
    min: 1,
    default: 1000,
    zcacheOnly: true,
    help:
      'Queries one client group may run at once; queries added beyond it are refused with an ' +
      'error to the client (it keeps the ones it has).',
  },
  {
    key: 'maxQueryRecordsPerClientGroup',
    flag: 'max-query-records-per-client-group',
    type: 'number',
    integer: true,
    min: 10,
    default: 5000,
    zcacheOnly: true,
    help:
      'Query records one client group keeps, tombstones of removed queries included; beyond it ' +
      'the oldest tombstones are forgotten, and a client returning from before them gets its ' +
      'view reset (cleared and resent) instead of a catch-up.',
  },
  {
    key: 'maxClientsPerClientGroup',
    flag: 'max-clients-per-client-group',
    type: 'number',
    integer: true,
    min: 1,
    default: 64,
    zcacheOnly: true,
    help:
      'Sockets (tabs) one client group may have open on a sync worker at once; more are ' +
      'refused with ServerOverloaded and retry after a back-off.',
  },
  {
    key: 'maxConnectionsPerSyncWorker',
    flag: 'max-connections-per-sync-worker',
    type: 'number',
    integer: true,
    min: 1,
    default: 10_000,
    zcacheOnly: true,
    help:
      'Sockets one sync worker process serves at once; more are refused with ' +
      'ServerOverloaded and retry after a back-off (a load balancer may send them elsewhere).',
  },
  {
    key: 'maxAstDepth',
    flag: 'max-ast-depth',
    type: 'number',
    integer: true,
    min: 1,
    default: 32,
    zcacheOnly: true,
    help:
      'How deep a query may nest subqueries and and/or/EXISTS conditions (counted together); ' +
      'a deeper query is refused with an error to the client.',
  },
  {
    key: 'maxAstNodes',
    flag: 'max-ast-nodes',
    type: 'number',
    integer: true,
    min: 1,
    default: 2000,
    zcacheOnly: true,
    help:
      'How many conditions and subqueries one query may have in all; a larger query is refused ' +
      'with an error to the client.',
  },
  {
    key: 'maxInListLength',
    flag: 'max-in-list-length',
    type: 'number',
    integer: true,
    min: 1,
    default: 10_000,
    zcacheOnly: true,
    help: 'How many values one IN / NOT IN list may hold; a query with a longer one is refused.',
  },
] as const satisfies readonly OptionSpec[];
