import {createHash} from 'node:crypto';
import {createReadStream, createWriteStream} from 'node:fs';
import {mkdir, mkdtemp, open, rename, rm, unlink} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {Transform, type TransformCallback} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {createGunzip, createGzip} from 'node:zlib';
import Database from 'better-sqlite3';
import {
  openReplica,
  readReplicationConfig,
  readStateVersion,
  type ReplicaDb,
} from '../replica/replica-file.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import {silentLogger, type Logger} from '../shared/log.js';
import {
  CorruptBackupError,
  MalformedManifestError,
  readBackupManifest,
  SNAPSHOTS_PREFIX,
  snapshotKey,
  snapshotsBeyondRetention,
  writeBackupManifest,
  type BackupManifest,
} from './backup-manifest.js';
import {removeAbandonedWork, WORK_PREFIXES} from './abandoned-work.js';
import type {ObjectStore} from './object-store.js';
import type {SnapshotCopier} from './snapshot-copier.js';

/**
 * Backing up a live replica to an ObjectStore, and restoring one from it.
 *
 * A backup copies the replica with `VACUUM INTO`, which reads the whole database in ONE read
 * transaction: the copy is the state at one commit however busy the writer is, and WAL mode lets
 * the writer go on meanwhile. (The online backup API, `db.backup()`, copies in steps and starts
 * over whenever another connection commits, so under steady replication it may never finish.)
 * VACUUM INTO also drops free pages, so less is uploaded. Its cost: it runs synchronously on the
 * given connection, blocking that thread for the copy's duration, and the checkpointer cannot
 * reset the WAL until it ends.
 */
export interface BackUpOptions {
  log?: Logger;
  /** Snapshots kept in the store, the manifest's included (default 2, at least 1). */
  retain?: number;
  /** Where the uncompressed copy and its gzip are made (default: beside the replica file). */
  tmpDir?: string;
  now?: () => Date;
  /** How the replica is copied (default: VACUUM INTO on `db` itself, on this thread). */
  copy?: SnapshotCopier;
}

export const DEFAULT_RETAIN = 2;

/**
 * Uploads a consistent snapshot of `db`, then publishes it in the manifest, then deletes
 * snapshots beyond the retention count. The manifest is written only after its snapshot is fully
 * stored; a failure before that leaves the previous manifest in force. A failure to delete old
 * snapshots is logged, not thrown: the backup has succeeded, and the next one retries.
 *
 * Refuses (throws) to publish a snapshot behind the published one — an older replicaVersion, or
 * the same one at an earlier watermark (a replica that lost its last commits): the change log
 * may already be purged up to the published watermark.
 */
export async function backUpReplica(
  db: ReplicaDb,
  store: ObjectStore,
  opts: BackUpOptions = {},
): Promise<BackupManifest> {
  const log = opts.log ?? silentLogger;
  if (db.inTransaction) throw new Error('backup: the replica connection is inside a transaction');
  const started = Date.now();
  const work = await mkdtemp(path.join(opts.tmpDir ?? dirOf(db), WORK_PREFIXES.backup));
  try {
    const copy = path.join(work, 'replica.db');
    const before = readStateVersion(db);
    if (opts.copy) await opts.copy(db.name, copy);
    else db.prepare('VACUUM INTO ?').run(copy);
    const {replicaVersion, stateVersion} = readVersions(copy);
    if (before !== null && stateVersion < before) {
      throw new Error(`backup: the copy is at ${stateVersion}, before the replica's ${before}`);
    }
    await assertNotBehindPublished(store, replicaVersion, stateVersion, log);

    const gz = path.join(work, 'replica.db.gz');
    const {bytes, sha256} = await copyThrough(copy, gz, createGzip());
    await rm(copy);
    const key = snapshotKey(replicaVersion, stateVersion, sha256);
    await store.putFile(key, gz);

    const manifest: BackupManifest = {
      format: 1,
      replicaVersion,
      watermark: stateVersion,
      key,
      bytes,
      sha256,
      createdAt: (opts.now?.() ?? new Date()).toISOString(),
    };
    await writeBackupManifest(store, manifest);
    await deleteOldSnapshots(store, manifest, opts.retain ?? DEFAULT_RETAIN, log);
    log.info(`backed up the replica at ${stateVersion} to ${store.location}${key}`, {
      bytes,
      ms: Date.now() - started,
    });
    return manifest;
  } finally {
    await rm(work, {recursive: true, force: true});
  }
}

/**
 * Deletes the working folders of backups that a killed process left beside the replica (or in
 * `tmpDir`), and returns their names. Only while no backup of this replica runs.
 */
export function removeAbandonedBackupWork(db: ReplicaDb, tmpDir?: string): Promise<string[]> {
  return removeAbandonedWork(tmpDir ?? dirOf(db), 'backup');
}

function dirOf(db: ReplicaDb): string {
  return db.memory || db.name === '' ? tmpdir() : path.dirname(path.resolve(db.name));
}

function readVersions(file: string): {replicaVersion: LexiVersion; stateVersion: LexiVersion} {
  const copy = openReplica(file, {readonly: true});
  try {
    const replicaVersion = readReplicationConfig(copy)?.replicaVersion;
    const stateVersion = readStateVersion(copy);
    if (!replicaVersion || !stateVersion) {
      throw new Error('backup: the replica has no replicationConfig or stateVersion yet');
    }
    return {replicaVersion, stateVersion};
  } finally {
    copy.close();
  }
}

async function assertNotBehindPublished(
  store: ObjectStore,
  replicaVersion: LexiVersion,
  stateVersion: LexiVersion,
  log: Logger,
): Promise<void> {
  let published: BackupManifest | null;
  try {
    published = await readBackupManifest(store);
  } catch (e) {
    if (!(e instanceof MalformedManifestError)) throw e;
    log.warn(`${e.message}; it will be replaced`);
    return;
  }
  if (!published) return;
  const behind =
    replicaVersion < published.replicaVersion ||
    (replicaVersion === published.replicaVersion && stateVersion < published.watermark);
  if (behind) {
    throw new Error(
      `backup: the replica (replicaVersion ${replicaVersion}, at ${stateVersion}) is behind the ` +
        `published backup (replicaVersion ${published.replicaVersion}, at ${published.watermark}); ` +
        `not publishing it, as the change log may be purged up to the published one`,
    );
  }
}

async function deleteOldSnapshots(
  store: ObjectStore,
  manifest: BackupManifest,
  retain: number,
  log: Logger,
): Promise<void> {
  try {
    const doomed = snapshotsBeyondRetention(await store.list(SNAPSHOTS_PREFIX), manifest, retain);
    await store.delete(doomed);
  } catch (e) {
    log.warn('backup: could not delete old snapshots (the next backup tries again):', e);
  }
}

/** Streams `src` through `transform` into `dst`; the size and sha256 are of what `dst` got. */
async function copyThrough(
  src: string,
  dst: string,
  transform: Transform,
): Promise<{bytes: number; sha256: string}> {
  const digest = new DigestTap();
  await pipeline(createReadStream(src), transform, digest, createWriteStream(dst));
  return {bytes: digest.bytes, sha256: digest.hex()};
}

class DigestTap extends Transform {
  readonly #hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  hex(): string {
    return this.#hash.digest('hex');
  }
}

async function digestOf(file: string): Promise<{bytes: number; sha256: string}> {
  const digest = new DigestTap();
  digest.resume();
  await pipeline(createReadStream(file), digest);
  return {bytes: digest.bytes, sha256: digest.hex()};
}

export interface RestoreOptions {
  log?: Logger;
}

/**
 * Replaces `replicaFile` with the published snapshot and returns its manifest, or returns null
 * (touching nothing) when the store holds no backup. The snapshot is downloaded, checked and
 * unpacked in a folder beside `replicaFile`, and moved into place only when whole and valid, so
 * `replicaFile` is either what it was or the complete snapshot (a crash leaves the folder, which
 * removeAbandonedRestoreWork deletes on the next start). A backup that is unusable throws
 * CorruptBackupError; store failures throw BackupStoreError.
 *
 * Nothing may have `replicaFile` open meanwhile: its -wal and -shm are deleted (a WAL left beside
 * the new file would be replayed into it). A crash between that and the rename leaves the old
 * file without its WAL, so after a crash the caller restores again.
 */
export async function restoreReplica(
  store: ObjectStore,
  replicaFile: string,
  opts: RestoreOptions = {},
): Promise<BackupManifest | null> {
  const log = opts.log ?? silentLogger;
  const target = path.resolve(replicaFile);
  await mkdir(path.dirname(target), {recursive: true});
  const work = await mkdtemp(path.join(path.dirname(target), WORK_PREFIXES.restore));
  try {
    const gz = path.join(work, 'snapshot.db.gz');
    const manifest = await downloadPublished(store, gz, log);
    if (!manifest) return null;
    const {bytes, sha256} = await digestOf(gz);
    if (sha256 !== manifest.sha256 || bytes !== manifest.bytes) {
      throw new CorruptBackupError(
        `${manifest.key} has sha256 ${sha256} (${bytes} bytes), but the manifest says ` +
          `${manifest.sha256} (${manifest.bytes} bytes)`,
        manifest,
      );
    }
    const db = path.join(work, 'replica.db');
    await gunzip(gz, db, manifest);
    await rm(gz);
    checkSnapshot(db, manifest);
    await moveIntoPlace(db, target);
    log.info(`restored the replica at ${manifest.watermark} from ${store.location}${manifest.key}`);
    return manifest;
  } finally {
    await rm(work, {recursive: true, force: true});
  }
}

/**
 * Deletes the working folders that restores killed mid-way left beside `replicaFile`, and
 * returns their names. Only before this replica is restored: a running restore's folder would go
 * too (as would another replica's, were two restored in one folder at once; that one retries).
 */
export function removeAbandonedRestoreWork(replicaFile: string): Promise<string[]> {
  return removeAbandonedWork(path.dirname(path.resolve(replicaFile)), 'restore');
}

/**
 * Downloads the snapshot the manifest names. If it is gone, a backup may have replaced the
 * manifest and deleted it meanwhile (retention), so the manifest is read again, a few times.
 */
async function downloadPublished(
  store: ObjectStore,
  file: string,
  log: Logger,
): Promise<BackupManifest | null> {
  let previous: BackupManifest | null = null;
  for (let attempt = 1; ; attempt++) {
    const manifest = await readBackupManifest(store);
    if (!manifest) return null;
    if (await store.getFile(manifest.key, file)) return manifest;
    if (attempt === 3 || manifest.key === previous?.key) {
      throw new CorruptBackupError(
        `the manifest names ${manifest.key}, which does not exist`,
        manifest,
      );
    }
    log.info(`backup: ${manifest.key} is gone; reading the manifest again`);
    previous = manifest;
  }
}

async function gunzip(src: string, dst: string, manifest: BackupManifest): Promise<void> {
  try {
    await pipeline(createReadStream(src), createGunzip(), createWriteStream(dst));
  } catch (e) {
    const code = (e as {code?: string}).code;
    if (code?.startsWith('Z_')) {
      throw new CorruptBackupError(
        `${manifest.key} is not valid gzip: ${(e as Error).message}`,
        manifest,
        e,
      );
    }
    throw e;
  }
}

/** Throws CorruptBackupError unless `file` is a sound SQLite database at the manifest's versions. */
function checkSnapshot(file: string, manifest: BackupManifest): void {
  const corrupt = (why: string, cause?: unknown) =>
    new CorruptBackupError(`${manifest.key} ${why}`, manifest, cause);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, {readonly: true, fileMustExist: true});
    const check = db.pragma('quick_check', {simple: true});
    if (check !== 'ok') throw corrupt(`fails quick_check: ${String(check)}`);
    const replicaVersion = readReplicationConfig(db)?.replicaVersion;
    const stateVersion = readStateVersion(db);
    if (replicaVersion !== manifest.replicaVersion || stateVersion !== manifest.watermark) {
      throw corrupt(
        `holds replicaVersion ${replicaVersion} at ${stateVersion}, but the manifest says ` +
          `${manifest.replicaVersion} at ${manifest.watermark}`,
      );
    }
  } catch (e) {
    if (e instanceof CorruptBackupError) throw e;
    const code = (e as {code?: string}).code ?? '';
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
      throw corrupt(`is not a sound SQLite database: ${(e as Error).message}`, e);
    }
    throw e;
  } finally {
    db?.close();
  }
}

async function moveIntoPlace(file: string, target: string): Promise<void> {
  await fsync(file);
  for (const suffix of ['-wal', '-shm', '-journal']) {
    await unlink(target + suffix).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  await rename(file, target);
  await fsync(path.dirname(target));
}

async function fsync(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
