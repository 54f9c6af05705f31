import {readReplicationConfig, readStateVersion, type ReplicaDb} from '../replica/replica-file.js';
import {silentLogger, type Logger} from '../shared/log.js';
import {
  MalformedManifestError,
  readBackupManifest,
  type BackupManifest,
} from './backup-manifest.js';
import type {ObjectStore} from './object-store.js';
import {backUpReplica, removeAbandonedBackupWork, type BackUpOptions} from './replica-snapshot.js';

/**
 * Backs the replica up every `intervalMs`, and on demand. At most one backup runs at a time; a
 * backup is skipped when the replica's stateVersion has not moved since the last one. A failed
 * backup (S3 down, disk full) is logged and tried again after `retryMs`; the loop itself never
 * throws.
 *
 * `lastManifest` is the latest backup known to be published — by this loop, or found in the store
 * at the first run when it matches the replica. Its watermark is as far as the change log may be
 * purged on behalf of restores. Invariant: for one replicaVersion it never moves backwards.
 */
export interface ReplicaBackupLoopOptions {
  /** A connection to the replica; each backup blocks it while copying (see backUpReplica). */
  db: ReplicaDb;
  store: ObjectStore;
  intervalMs: number;
  /** Delay after a failed backup (default: intervalMs, at most 10 s). */
  retryMs?: number;
  log?: Logger;
  backup?: Omit<BackUpOptions, 'log'>;
  timer?: LoopTimer;
  /** Called after each new backup is published. */
  onBackup?: (manifest: BackupManifest) => void;
}

export interface LoopTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimer: LoopTimer = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class ReplicaBackupLoop {
  readonly #opts: ReplicaBackupLoopOptions;
  readonly #log: Logger;
  readonly #timer: LoopTimer;
  #lastManifest: BackupManifest | null = null;
  #checkedPublished = false;
  /** The latest run, started or queued: runs are chained on it. */
  #tail: Promise<unknown> = Promise.resolve();
  /** A run queued behind the one in progress, shared by everyone asking meanwhile. */
  #queued: Promise<BackupManifest | null> | null = null;
  #handle: unknown = undefined;
  #started = false;
  #stopped = false;

  constructor(opts: ReplicaBackupLoopOptions) {
    if (!(opts.intervalMs > 0))
      throw new Error(`backup: intervalMs must be > 0, got ${opts.intervalMs}`);
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
    this.#timer = opts.timer ?? realTimer;
  }

  get lastManifest(): BackupManifest | null {
    return this.#lastManifest;
  }

  /** Starts the timer; the first backup runs at once. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedule(0);
  }

  /**
   * A backup that starts after this call (one already running may have copied an older state),
   * or the last one if the replica has not moved. Null when the replica has no state yet.
   * Rejects when that backup fails; the loop goes on either way.
   */
  backUpNow(): Promise<BackupManifest | null> {
    if (this.#stopped) return Promise.reject(new Error('backup: the backup loop is stopped'));
    if (!this.#queued) {
      const run = this.#tail.then(() => {
        this.#queued = null;
        return this.#runOnce();
      });
      this.#queued = run;
      this.#tail = run.catch(() => {});
    }
    return this.#queued;
  }

  /** Stops the timer and waits for a backup in progress (which is not interrupted). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#handle !== undefined) this.#timer.clearTimeout(this.#handle);
    this.#handle = undefined;
    await this.#tail;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#handle = this.#timer.setTimeout(() => {
      this.#handle = undefined;
      this.backUpNow().then(
        () => this.#schedule(this.#opts.intervalMs),
        () => this.#schedule(this.#opts.retryMs ?? Math.min(this.#opts.intervalMs, 10_000)),
      );
    }, ms);
  }

  async #runOnce(): Promise<BackupManifest | null> {
    const {db, store} = this.#opts;
    try {
      const replicaVersion = readReplicationConfig(db)?.replicaVersion;
      const stateVersion = readStateVersion(db);
      if (!replicaVersion || !stateVersion) return null;
      if (!this.#checkedPublished) {
        await this.#removeAbandonedWork();
        await this.#adoptPublished(replicaVersion, stateVersion);
      }
      const last = this.#lastManifest;
      if (last?.replicaVersion === replicaVersion) {
        if (last.watermark === stateVersion) return last;
        if (stateVersion < last.watermark) {
          throw new Error(
            `backup: the replica is at ${stateVersion}, behind the last backup at ` +
              `${last.watermark}; waiting for it to catch up`,
          );
        }
      }
      const manifest = await backUpReplica(db, store, {...this.#opts.backup, log: this.#log});
      if (last?.replicaVersion === manifest.replicaVersion && manifest.watermark < last.watermark) {
        throw new Error(
          `backup: invariant violated: published ${manifest.watermark} after ${last.watermark}`,
        );
      }
      this.#lastManifest = manifest;
      this.#opts.onBackup?.(manifest);
      return manifest;
    } catch (e) {
      this.#log.warn(`backup: backing up the replica to ${store.location} failed:`, e);
      throw e;
    }
  }

  /** What a backup killed mid-way (by a crash of this process) left beside the replica. */
  async #removeAbandonedWork(): Promise<void> {
    const removed = await removeAbandonedBackupWork(this.#opts.db, this.#opts.backup?.tmpDir);
    if (removed.length) {
      this.#log.info(`backup: removed the working copies of interrupted backups: ${removed}`);
    }
  }

  /** After a restart, a published backup of exactly this replica state need not be redone. */
  async #adoptPublished(replicaVersion: string, stateVersion: string): Promise<void> {
    let published: BackupManifest | null;
    try {
      published = await readBackupManifest(this.#opts.store);
    } catch (e) {
      if (!(e instanceof MalformedManifestError)) throw e;
      published = null;
    }
    this.#checkedPublished = true;
    if (published?.replicaVersion === replicaVersion && published.watermark === stateVersion) {
      this.#lastManifest = published;
    }
  }
}
