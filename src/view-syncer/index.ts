/**
 * view-syncer/: client groups. Per group: the client view record (CVR) and its store in
 * ZERO_CVR_DB, the query set with TTLs, the ref-counted row set, the pipeline driver over the
 * replica, the poke builder, catch-up, custom-query transforms (and their re-transforms), what a
 * failed load or step tells the group's clients, and each client's socket protocol with its
 * credential checks.
 */
export {ClientConnection} from './client-connection.js';
export {ensureCVRSchema} from './cvr-schema.js';
export {CVRStore, purgeInactive} from './cvr-store.js';
export {ViewSyncer, type ClientHandle} from './view-syncer.js';
