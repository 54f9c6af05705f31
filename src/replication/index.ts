/**
 * replication/: upstream Postgres. Checks, the app and shard schemas and publications, DDL event
 * triggers, initial sync (COPY at an exported snapshot), pgoutput decoding and the change source
 * that turns the replication stream into committed transactions.
 */
export {initialSync} from './initial-sync.js';
export {startPgChangeSource, type ChangeSource} from './pg-change-source.js';
export {ensureShardSchema} from './shard-schema.js';
export {checkUpstream} from './upstream-check.js';
