/**
 * server/: processes and ports. The supervisor, worker processes, the embedded Postgres for the
 * one-command default, HTTP endpoints (/, /keepalive, /statz), admin auth and graceful drain.
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
