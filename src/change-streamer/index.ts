/**
 * change-streamer/: the durable change log in ZERO_CHANGE_DB and the streamer that stores upstream
 * transactions in it (group commit, acking upstream only after storing) and serves subscribers.
 */
export {ChangeLog} from './change-log.js';
export {ChangeStreamer} from './change-streamer.js';
