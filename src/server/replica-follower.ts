import {existsSync} from 'node:fs';
import {
  CorruptBackupError,
  removeAbandonedRestoreWork,
  restoreReplica,
  S3ObjectStore,
} from '../backup/index.js';
import {
  ChangeStreamRefusedError,
  followChanges,
  reserveSnapshot,
  type SnapshotReservation,
} from '../change-streamer/change-stream-client.js';
import {
  openReplica,
  readReplicationConfig,
  readStateVersion,
  type ReplicaDb,
} from '../replica/replica-file.js';
import {ChangeApplier} from '../replicator/change-applier.js';
import {Replicator} from '../replicator/replicator.js';
import type {Logger} from '../shared/log.js';
import {deleteReplicaFiles} from './replication-node.js';

/**
 * A view-syncer's replication path (multi node, ZERO_CHANGE_STREAMER_URI): reserve a snapshot at
 * the replication-manager, restore the replica from the backup it names (unless the local one is
 * of the same replica version and recent enough), then follow the manager's change stream from the
 * replica's watermark and apply it.
 *
 * Start-up waits — with a log line each time — while the manager is unreachable or has no backup
 * yet (rolling updates start view-syncers before their manager). Once running, a lost connection
 * is retried by the stream itself; a refusal (wrong replica version, watermark too old) ends
 * `done` with that error: the replica must be restored again, which a restart does.
 */
export interface ReplicaFollowerOptions {
  changeStreamerURI: string;
  /** ZCACHE_CHANGE_STREAMER_SECRET: sent with every request to the manager. */
  changeStreamerSecret?: string | undefined;
  taskID: string;
  replicaFile: string;
  /** ZERO_LITESTREAM_ENDPOINT (the backup URL itself comes from the manager). */
  backupEndpoint?: string | undefined;
  log: Logger;
}

export interface ReplicaFollower {
  readonly replica: ReplicaDb;
  readonly replicator: Replicator;
  /** How the replica was obtained, for the start-up log and tests. */
  readonly origin: 'restored' | 'local';
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

const RESTORE_RETRY_MS = 3_000;

export async function startReplicaFollower(o: ReplicaFollowerOptions): Promise<ReplicaFollower> {
  const log = o.log.withContext({component: 'replica-follower'});
  const abort = new AbortController();
  // A view-syncer killed mid-restore left its download beside the replica; nothing else would
  // ever remove it, and no restore of this replica runs yet.
  const removed = await removeAbandonedRestoreWork(o.replicaFile);
  if (removed.length) log.info(`removed the working folders of interrupted restores: ${removed}`);
  const {reservation, origin} = await obtainReplica(o, log, abort.signal);
  const replica = openReplica(o.replicaFile);
  const config = readReplicationConfig(replica)!;
  const from = readStateVersion(replica)!;
  const applier = new ChangeApplier(replica, from);
  const replicator = new Replicator(replica, applier, log);
  const stream = followChanges({
    base: o.changeStreamerURI,
    params: {
      id: o.taskID,
      taskID: o.taskID,
      mode: 'serving',
      replicaVersion: config.replicaVersion,
    },
    from,
    secret: o.changeStreamerSecret,
    log,
    signal: abort.signal,
  });
  let stopping = false;
  const done = replicator.run(stream).then(
    () => {
      if (!stopping) throw new Error('replica follower: the change stream ended unexpectedly');
    },
    (e) => {
      if (stopping) return;
      if (e instanceof ChangeStreamRefusedError) {
        throw new Error(
          `the replication-manager refused this replica: ${e.message}. ` +
            'Exiting: started again, this view-syncer restores the replica from the current backup',
        );
      }
      throw e;
    },
  );
  done.catch(() => {});
  // The manager ends the reservation when this task subscribes; this covers a failed subscription.
  setTimeout(() => reservation.release(), 60_000).unref();
  return {
    replica,
    replicator,
    origin,
    done,
    async stop() {
      stopping = true;
      abort.abort();
      reservation.release();
      await done.catch(() => {});
      replica.close();
    },
  };
}

/**
 * Reserves a snapshot and makes sure the replica file can follow from the manager: kept when it
 * is of the manager's replica version and at or past the reservation's minimum watermark, else
 * restored from the backup. Retries until it has one.
 */
async function obtainReplica(
  o: ReplicaFollowerOptions,
  log: Logger,
  signal: AbortSignal,
): Promise<{reservation: SnapshotReservation; origin: 'restored' | 'local'}> {
  for (;;) {
    const reservation = await reserveSnapshot(o.changeStreamerURI, o.taskID, log, signal, {
      secret: o.changeStreamerSecret,
    });
    const {backupURL, replicaVersion, minWatermark} = reservation.status;
    if (localReplicaUsable(o.replicaFile, replicaVersion, minWatermark, log)) {
      return {reservation, origin: 'local'};
    }
    const store = new S3ObjectStore({backupURL, endpoint: o.backupEndpoint});
    const started = Date.now();
    try {
      // restoreReplica replaces the unusable local file only once the snapshot is whole and valid.
      const manifest = await restoreReplica(store, o.replicaFile, {log});
      if (!manifest) throw new Error(`no backup at ${store.location} yet`);
      if (manifest.replicaVersion !== replicaVersion || manifest.watermark < minWatermark) {
        throw new Error(
          `the backup at ${store.location} is replica ${manifest.replicaVersion} at ` +
            `${manifest.watermark}; the manager needs ${replicaVersion} at ${minWatermark} or later`,
        );
      }
      log.info(
        `restored the replica from ${store.location} at ${manifest.watermark} ` +
          `in ${Date.now() - started} ms`,
      );
      return {reservation, origin: 'restored'};
    } catch (e) {
      reservation.release();
      deleteReplicaFiles(o.replicaFile);
      const what = e instanceof CorruptBackupError ? 'the backup is corrupt' : 'cannot restore';
      log.warn(`${what}: ${(e as Error).message}; retrying in ${RESTORE_RETRY_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, RESTORE_RETRY_MS));
      signal.throwIfAborted();
    }
  }
}

function localReplicaUsable(
  file: string,
  replicaVersion: string,
  minWatermark: string,
  log: Logger,
): boolean {
  if (!existsSync(file)) return false;
  let db: ReplicaDb | undefined;
  try {
    db = openReplica(file, {readonly: true});
    const config = readReplicationConfig(db);
    const state = readStateVersion(db);
    if (config?.replicaVersion === replicaVersion && state !== null && state >= minWatermark) {
      log.info(`resuming the local replica ${file} at ${state}`);
      return true;
    }
    log.info(
      `the local replica ${file} (version ${config?.replicaVersion ?? 'none'} at ${state ?? 'none'}) ` +
        `cannot follow the manager (version ${replicaVersion}, from ${minWatermark}): restoring`,
    );
    return false;
  } catch (e) {
    log.warn(`the local replica ${file} is unreadable (${(e as Error).message}): restoring`);
    return false;
  } finally {
    db?.close();
  }
}
