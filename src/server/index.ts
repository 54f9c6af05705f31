/**
 * server/: processes and ports. The supervisor, worker processes, the embedded Postgres for the
 * one-command default, HTTP endpoints (/, /keepalive, /statz), admin auth and graceful drain, and
 * the replication child's roles: single node, replication-manager (change stream, backups) and
 * view-syncer (restore, then follow the manager).
 */
export {startEmbeddedPostgres, type RunningPostgres} from './embedded-postgres.js';
export {runSupervisor} from './supervisor.js';
export {
  defaultSyncConnectionHandlerFactory,
  setSyncConnectionHandlerFactory,
  type SyncConnectionHandler,
  type SyncConnectionHandlerContext,
  type SyncConnectionHandlerFactory,
  type SyncConnectionRequest,
} from './sync-connection-handler.js';
