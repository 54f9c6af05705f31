/**
 * backup/: the replica's native backup to S3 (or an S3-compatible store) for multi-node
 * deployments. The replication-manager publishes consistent, gzip-compressed snapshots of its
 * replica with a manifest naming the latest one and its watermark; a view-syncer restores the
 * replica from that snapshot and catches up from the change log at the watermark.
 */
export {ReplicaBackupLoop, type LoopTimer, type ReplicaBackupLoopOptions} from './backup-loop.js';
export {
  CorruptBackupError,
  MalformedManifestError,
  readBackupManifest,
  type BackupManifest,
} from './backup-manifest.js';
export {BackupStoreError, type ObjectStore, type StoredObject} from './object-store.js';
export {
  backUpReplica,
  DEFAULT_RETAIN,
  removeAbandonedRestoreWork,
  restoreReplica,
  type BackUpOptions,
  type RestoreOptions,
} from './replica-snapshot.js';
export {parseBackupURL, S3ObjectStore, type S3ObjectStoreOptions} from './s3-object-store.js';
export {copyOnWorkerThread, type SnapshotCopier} from './snapshot-copier.js';
