import type {OptionSpec} from './option-spec.js';

export const UPSTREAM_OPTIONS = [
  {
    key: 'upstream.db',
    flag: 'upstream-db',
    type: 'string',
    help:
      'The upstream Postgres database, the source of truth (a postgres:// URL). ' +
      'When unset, zcache starts an embedded Postgres in --data-dir.',
  },
  {
    key: 'upstream.type',
    flag: 'upstream-type',
    type: 'enum',
    values: ['pg', 'custom'],
    default: 'pg',
    hidden: true,
    help:
      'What --upstream-db points at: "pg" for a Postgres connection URL, "custom" for the ' +
      'base URL of a custom change-source endpoint.',
  },
  {
    key: 'upstream.maxConns',
    flag: 'upstream-max-conns',
    type: 'number',
    integer: true,
    min: 1,
    default: 20,
    help:
      'Connections to the upstream database for writing mutations, shared evenly by the sync ' +
      'workers; it must be at least --num-sync-workers. Replication uses one more connection.',
  },
  {
    key: 'upstream.maxConnsPerWorker',
    flag: 'upstream-max-conns-per-worker',
    type: 'number',
    integer: true,
    min: 1,
    derived: '--upstream-max-conns / --num-sync-workers, rounded down',
    derivedMayBeUnset: true,
    hidden: true,
    help: 'Upstream connections of one sync worker; the supervisor passes it to its workers.',
  },
] as const satisfies readonly OptionSpec[];

export const CVR_OPTIONS = [
  {
    key: 'cvr.db',
    flag: 'cvr-db',
    type: 'string',
    derived: '--upstream-db',
    derivedMayBeUnset: true,
    help:
      'The Postgres database holding client view records (CVRs): what each client group has ' +
      'been sent, used to compute the diff on reconnect.',
  },
  {
    key: 'cvr.maxConns',
    flag: 'cvr-max-conns',
    type: 'number',
    integer: true,
    min: 1,
    default: 30,
    help:
      'Connections to the CVR database, shared evenly by the sync workers; it must be at ' +
      'least --num-sync-workers.',
  },
  {
    key: 'cvr.maxConnsPerWorker',
    flag: 'cvr-max-conns-per-worker',
    type: 'number',
    integer: true,
    min: 1,
    derived: '--cvr-max-conns / --num-sync-workers, rounded down',
    derivedMayBeUnset: true,
    hidden: true,
    help: 'CVR connections of one sync worker; the supervisor passes it to its workers.',
  },
  {
    key: 'cvr.asyncCommit',
    flag: 'cvr-async-commit',
    type: 'boolean',
    default: true,
    zcacheOnly: true,
    help:
      'Commit CVR updates without waiting for the CVR database to fsync them (each poke is ' +
      'then ~2 ms sooner). If that database crashes, it may forget its last fraction of a ' +
      'second of updates; the clients concerned get their view reset on reconnect, and no ' +
      'row or mutation is lost. false: wait for every CVR commit to be durable.',
  },
  {
    key: 'cvr.garbageCollectionInactivityThresholdHours',
    flag: 'cvr-garbage-collection-inactivity-threshold-hours',
    type: 'number',
    min: 0,
    default: 48,
    help:
      'Hours without activity after which a CVR may be garbage collected. Collection is ' +
      'incremental, so eligible CVRs are not all removed at once.',
  },
  {
    key: 'cvr.garbageCollectionInitialIntervalSeconds',
    flag: 'cvr-garbage-collection-initial-interval-seconds',
    type: 'number',
    min: 0,
    default: 60,
    help:
      'Seconds between garbage collection rounds at first; the interval doubles, up to 16 ' +
      'minutes, while there is nothing to collect.',
  },
  {
    key: 'cvr.garbageCollectionInitialBatchSize',
    flag: 'cvr-garbage-collection-initial-batch-size',
    type: 'number',
    integer: true,
    min: 0,
    default: 25,
    help:
      'CVRs removed per round at first; grows while CVRs are created faster than they are ' +
      'removed. 0 turns CVR garbage collection off.',
  },
] as const satisfies readonly OptionSpec[];

export const CHANGE_LOG_OPTIONS = [
  {
    key: 'change.db',
    flag: 'change-db',
    type: 'string',
    derived: '--upstream-db',
    derivedMayBeUnset: true,
    help:
      'The Postgres database holding the change log: recent upstream transactions kept so ' +
      'that many view-syncers can follow one replication slot.',
  },
  {
    key: 'change.maxConns',
    flag: 'change-max-conns',
    type: 'number',
    integer: true,
    min: 1,
    default: 5,
    help: 'Connections the change-streamer opens to the change database to catch up subscribers.',
  },
] as const satisfies readonly OptionSpec[];

export const REPLICA_OPTIONS = [
  {
    key: 'replica.file',
    flag: 'replica-file',
    type: 'string',
    default: 'zero.db',
    help:
      'Path of the SQLite replica. It can be deleted; the next start then copies the upstream ' +
      'data again.',
  },
  {
    key: 'replica.vacuumIntervalHours',
    flag: 'replica-vacuum-interval-hours',
    type: 'number',
    min: 0,
    help:
      'VACUUM the replica at startup when this many hours have passed since the last VACUUM ' +
      'or initial sync. VACUUM is slow and needs twice the file size in free disk. Unset: never.',
  },
  {
    key: 'replica.pageCacheSizeKib',
    flag: 'replica-page-cache-size-kib',
    type: 'number',
    integer: true,
    help:
      'SQLite page cache of each view-syncer connection to the replica, in KiB. Every ' +
      "connection has its own cache. Unset: SQLite's default (about 2 MB).",
  },
  {
    key: 'initialSync.tableCopyWorkers',
    flag: 'initial-sync-table-copy-workers',
    type: 'number',
    integer: true,
    min: 1,
    default: 5,
    help:
      'Tables copied in parallel during initial sync. Each worker holds one upstream ' +
      'connection and buffers about 10 MB of rows.',
  },
  {
    key: 'initialSync.profileCopy',
    flag: 'initial-sync-profile-copy',
    type: 'boolean',
    hidden: true,
    help: 'Write a CPU profile of the copy phase of initial sync to the tmp directory.',
  },
  {
    key: 'storageDBTmpDir',
    flag: 'storage-db-tmp-dir',
    type: 'string',
    help: 'Directory for the scratch SQLite files of query operators. Unset: the OS tmp dir.',
  },
] as const satisfies readonly OptionSpec[];
