/**
 * replicator/: applies committed transactions to the replica, one SQLite transaction each, records
 * each changed row's old image, and signals "version ready".
 */
export {ChangeApplier} from './change-applier.js';
export {ReplicaVolumeFullError, Replicator} from './replicator.js';
