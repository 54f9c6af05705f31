/**
 * change-streamer/: the durable change log in ZERO_CHANGE_DB and the streamer that stores upstream
 * transactions in it (group commit, acking upstream only after storing) and serves subscribers —
 * in process, and over the change-streamer socket between a replication-manager and its
 * view-syncers (server, its access gate and client), with the purge that keeps the log bounded.
 */
export {ChangeLog, ChangeLogGapError} from './change-log.js';
export {ChangeLogPurger} from './change-log-purger.js';
export {ChangeStreamRefusedError, followChanges, reserveSnapshot} from './change-stream-client.js';
export {ChangeStreamServer} from './change-stream-server.js';
export {ChangeStreamer} from './change-streamer.js';
