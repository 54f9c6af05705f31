import type {ChangeStreamMessage} from '../protocol/change-stream.js';
import {checkpointReplica, type ReplicaDb} from '../replica/replica-file.js';
import {purgeRowChangesBefore} from '../replica/row-changes.js';
import {assertAdvances, type LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeApplier} from './change-applier.js';

/**
 * Follows a change stream from the replica's stateVersion and applies each transaction with the
 * ChangeApplier; after every commit it tells listeners "version ready" (no version in the signal:
 * readers look at the replica). It also keeps the replica bounded: the per-row change list is
 * purged behind `oldestNeededVersion()`, and the WAL is checkpointed after large transactions.
 */
export type VersionReadyListener = (stateVersion: LexiVersion) => void;

export interface ReplicatorOptions {
  /**
   * Oldest replica version any reader still advances from; row changes before it are purged. By
   * default the list keeps the last `retainVersions` versions (readers further behind rehydrate).
   */
  oldestNeededVersion?: () => LexiVersion | undefined;
  retainVersions?: number;
  /** Called after each commit with the new stateVersion (e.g. to purge the change log behind it). */
  onCommit?: (stateVersion: LexiVersion) => void;
  /** Checkpoint when the transactions since the last checkpoint wrote this many changes. */
  checkpointEveryChanges?: number;
  /** Checkpoint at a commit when the last one is older than this (ms), so durability advances. */
  checkpointEveryMs?: number;
  now?: () => number;
}

/** SQLite could not grow the replica (or its WAL): the volume it is on is full. */
export class ReplicaVolumeFullError extends Error {
  override name = 'ReplicaVolumeFullError';

  constructor(db: ReplicaDb, cause: unknown) {
    super(
      `the replica ${db.name} cannot be written: its volume is full (SQLITE_FULL). The ` +
        'transaction being applied was rolled back, and the replica holds every one before it. ' +
        `Free space on the volume of ${db.name} (the replica, its -wal file and a backup copy ` +
        'need room to grow), then restart zcache: it resumes from the replica',
      {cause},
    );
  }
}

export class Replicator {
  readonly #db: ReplicaDb;
  readonly #applier: ChangeApplier;
  readonly #log: Logger;
  readonly #opts: ReplicatorOptions;
  readonly #listeners = new Set<VersionReadyListener>();
  #changesSinceCheckpoint = 0;
  #lastCheckpoint: number;
  #durableVersion: LexiVersion | undefined;
  readonly #recentVersions: LexiVersion[] = [];

  constructor(db: ReplicaDb, applier: ChangeApplier, log: Logger, opts: ReplicatorOptions = {}) {
    this.#db = db;
    this.#applier = applier;
    this.#log = log;
    this.#opts = opts;
    this.#lastCheckpoint = this.#now();
    // What the file holds at start may still sit unsynced in the OS (after a killed process):
    // only a completed checkpoint makes it durable.
    if (checkpointReplica(db, 'truncate')) this.#durableVersion = applier.stateVersion;
  }

  get stateVersion(): LexiVersion {
    return this.#applier.stateVersion;
  }

  /**
   * The newest version the replica file holds durably — it survives a power loss, not only a
   * killed process: the version at the last completed checkpoint (with synchronous=NORMAL in WAL
   * mode, SQLite syncs the WAL before a checkpoint and the database after it). Commits after it
   * may be lost to a power loss, so nothing they need may be purged upstream of the replica.
   * Undefined until a checkpoint completes.
   */
  get durableVersion(): LexiVersion | undefined {
    return this.#durableVersion;
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }

  onVersionReady(l: VersionReadyListener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /**
   * Applies messages until the stream ends; a failed transaction is rolled back and rethrown (a
   * full volume as ReplicaVolumeFullError, which says what to do).
   */
  async run(stream: AsyncIterable<ChangeStreamMessage>): Promise<void> {
    try {
      for await (const msg of stream) this.#handle(msg);
    } catch (e) {
      if ((e as {code?: string}).code === 'SQLITE_FULL')
        throw new ReplicaVolumeFullError(this.#db, e);
      throw e;
    } finally {
      this.#applier.abort();
    }
  }

  #handle(msg: ChangeStreamMessage): void {
    switch (msg[0]) {
      case 'begin':
        return this.#applier.begin(msg[2].commitWatermark);
      case 'data':
        this.#changesSinceCheckpoint++;
        return this.#applier.apply(msg[1]);
      case 'rollback':
        return this.#applier.abort();
      case 'commit':
        this.#applier.commit(msg[2].watermark);
        this.#afterCommit(msg[2].watermark);
    }
  }

  #afterCommit(version: LexiVersion): void {
    this.#recentVersions.push(version);
    const retain = this.#opts.retainVersions ?? 1000;
    if (this.#recentVersions.length > retain) this.#recentVersions.shift();
    const byCount = this.#recentVersions[0]!;
    const needed = this.#opts.oldestNeededVersion?.();
    purgeRowChangesBefore(this.#db, needed !== undefined && needed < byCount ? needed : byCount);
    const now = this.#now();
    // By size: reset the WAL (waits for readers). By time: only to make commits durable, never
    // waiting for a reader (a hydration may hold one for a while); it completes when none does.
    const bySize = this.#changesSinceCheckpoint >= (this.#opts.checkpointEveryChanges ?? 10_000);
    if (bySize || now - this.#lastCheckpoint >= (this.#opts.checkpointEveryMs ?? 30_000)) {
      this.#lastCheckpoint = now;
      if (checkpointReplica(this.#db, bySize ? 'truncate' : 'passive')) {
        this.#changesSinceCheckpoint = 0;
        assertAdvances(this.#durableVersion ?? '', version, 'replicator: durable version');
        this.#durableVersion = version;
      } else this.#log.debug('replicator: checkpoint blocked by a reader; will retry');
    }
    this.#opts.onCommit?.(version);
    for (const l of this.#listeners) l(version);
  }
}
