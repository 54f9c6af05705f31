/**
 * server/: processes and ports. The supervisor, worker processes, the embedded Postgres for the
 * one-command default, HTTP endpoints (/, /keepalive, /statz), admin auth and graceful drain.
 */
export {startEmbeddedPostgres, type RunningPostgres} from './embedded-postgres.js';
