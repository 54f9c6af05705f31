import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, afterEach, beforeAll, expect, test} from 'vitest';
import {eventually} from '../../test/support/eventually.js';
import {startS3Server, type TestS3Server} from '../../test/support/s3-server.js';
import {
  createMetaTables,
  openReplica,
  writeReplicationConfig,
  writeStateVersion,
} from '../replica/replica-file.js';
import {versionToLexi} from '../shared/lexi-version.js';
import {createLogger} from '../shared/log.js';
import {ReplicaBackupLoop, type LoopTimer, type ReplicaBackupLoopOptions} from './backup-loop.js';
import {MANIFEST_KEY, readBackupManifest, type BackupManifest} from './backup-manifest.js';
import type {ObjectStore} from './object-store.js';
import {S3ObjectStore} from './s3-object-store.js';

const INTERVAL = 60_000;
const RETRY = 5_000;

let s3: TestS3Server;
let root: string;
let n = 0;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  Object.assign(process.env, s3.env);
  root = mkdtempSync(path.join(tmpdir(), 'zcache-backup-loop-test-'));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await s3?.dispose();
  if (root) rmSync(root, {recursive: true, force: true});
});

/** Timer callbacks run only when the test fires them. */
class ManualTimer implements LoopTimer {
  readonly pending: {fn: () => void; ms: number}[] = [];
  setTimeout(fn: () => void, ms: number): unknown {
    const t = {fn, ms};
    this.pending.push(t);
    return t;
  }
  clearTimeout(handle: unknown): void {
    const i = this.pending.indexOf(handle as (typeof this.pending)[number]);
    if (i >= 0) this.pending.splice(i, 1);
  }
  fire(): void {
    const t = this.pending.shift();
    if (!t) throw new Error('nothing scheduled');
    t.fn();
  }
}

/** Counts uploads of snapshots, and can hold them at a gate. */
class ObservedStore implements ObjectStore {
  readonly location: string;
  snapshotUploads = 0;
  inFlight = 0;
  maxInFlight = 0;
  gate: Promise<void> | null = null;
  readonly #inner: ObjectStore;

  constructor(inner: ObjectStore) {
    this.#inner = inner;
    this.location = inner.location;
  }
  async putFile(key: string, file: string) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      await this.#inner.putFile(key, file);
      this.snapshotUploads++;
    } finally {
      this.inFlight--;
    }
  }
  putBytes = (k: string, b: Uint8Array, t?: string) => this.#inner.putBytes(k, b, t);
  getFile = (k: string, f: string) => this.#inner.getFile(k, f);
  getBytes = (k: string) => this.#inner.getBytes(k);
  delete = (ks: readonly string[]) => this.#inner.delete(ks);
  list = (p: string) => this.#inner.list(p);
}

function setup(opts: Partial<ReplicaBackupLoopOptions> = {}) {
  const dir = path.join(root, `t${++n}`);
  const db = openReplica(path.join(dir, 'replica.db'));
  cleanups.push(() => void db.close());
  createMetaTables(db);
  writeReplicationConfig(db, {replicaVersion: versionToLexi(900), publications: [], slot: 's'});
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY)');
  const s3Store = new S3ObjectStore({
    backupURL: s3.backupURLFor(`loop-test/t${n}/`),
    endpoint: s3.endpoint,
  });
  cleanups.push(() => s3Store.close());
  const store = new ObservedStore(s3Store);
  const timer = new ManualTimer();
  const logLines: string[] = [];
  const log = createLogger('debug', 'text', {}, {write: (l) => logLines.push(l)});
  const published: BackupManifest[] = [];
  const loopOpts: ReplicaBackupLoopOptions = {
    db,
    store,
    intervalMs: INTERVAL,
    retryMs: RETRY,
    timer,
    log,
    onBackup: (m) => published.push(m),
    ...opts,
  };
  const loop = new ReplicaBackupLoop(loopOpts);
  cleanups.push(() => loop.stop());
  const commit = (v: number) => {
    db.prepare('INSERT INTO items VALUES (?)').run(v);
    writeStateVersion(db, versionToLexi(v));
  };
  return {db, store, s3Store, timer, logLines, published, loop, loopOpts, commit};
}

test('started, the loop backs up at once and then schedules the next after the interval', async () => {
  const {store, timer, loop, published, commit} = setup();
  commit(1);
  loop.start();
  expect(timer.pending.map((t) => t.ms)).toEqual([0]);
  timer.fire();
  await eventually(() => expect(timer.pending.map((t) => t.ms)).toEqual([INTERVAL]));
  expect(loop.lastManifest?.watermark).toBe(versionToLexi(1));
  expect(published).toEqual([loop.lastManifest]);
  expect(await readBackupManifest(store)).toEqual(loop.lastManifest);
});

test('a run with no new commit since the last backup uploads nothing', async () => {
  const {store, loop, commit} = setup();
  commit(1);
  const first = await loop.backUpNow();
  expect(await loop.backUpNow()).toBe(first);
  expect(store.snapshotUploads).toBe(1);
  commit(2);
  expect((await loop.backUpNow())?.watermark).toBe(versionToLexi(2));
  expect(store.snapshotUploads).toBe(2);
});

test('backups never overlap, and requests during one share the next run', async () => {
  const {store, loop, commit} = setup();
  commit(1);
  let open!: () => void;
  store.gate = new Promise((r) => (open = r));
  const first = loop.backUpNow();
  await eventually(() => expect(store.inFlight).toBe(1));
  commit(2);
  const second = loop.backUpNow();
  const third = loop.backUpNow();
  expect(third).toBe(second);
  open();
  expect((await first)?.watermark).toBe(versionToLexi(1));
  expect((await second)?.watermark).toBe(versionToLexi(2));
  expect(store.maxInFlight).toBe(1);
  expect(store.snapshotUploads).toBe(2);
});

test('with S3 down the loop logs, retries, and backs up once S3 is back', async () => {
  const {store, timer, loop, logLines, commit} = setup();
  commit(1);
  await s3.stop();
  try {
    loop.start();
    timer.fire();
    await eventually(() => expect(timer.pending.map((t) => t.ms)).toEqual([RETRY]));
    expect(loop.lastManifest).toBeNull();
    expect(logLines.join('\n')).toMatch(
      /WARN {2}backup: backing up the replica .* failed.*cannot reach/s,
    );
    timer.fire();
    await eventually(() => expect(timer.pending.map((t) => t.ms)).toEqual([RETRY]));
  } finally {
    await s3.start();
  }
  timer.fire();
  await eventually(() => expect(timer.pending.map((t) => t.ms)).toEqual([INTERVAL]));
  expect(loop.lastManifest?.watermark).toBe(versionToLexi(1));
  expect(await readBackupManifest(store)).toEqual(loop.lastManifest);
});

test('an on-demand backup that fails rejects, and the loop goes on', async () => {
  const {loop, commit} = setup();
  commit(1);
  await s3.stop();
  try {
    await expect(loop.backUpNow()).rejects.toThrow('cannot reach');
  } finally {
    await s3.start();
  }
  expect((await loop.backUpNow())?.watermark).toBe(versionToLexi(1));
});

test('a new loop adopts a published backup of the same replica state instead of uploading', async () => {
  const {store, loop, loopOpts, commit} = setup();
  commit(1);
  const published = await loop.backUpNow();
  await loop.stop();
  const again = new ReplicaBackupLoop(loopOpts);
  cleanups.push(() => again.stop());
  expect(await again.backUpNow()).toEqual(published);
  expect(again.lastManifest).toEqual(published);
  expect(store.snapshotUploads).toBe(1);
});

test('a replica with no state version yet is not backed up', async () => {
  const {store, loop} = setup();
  expect(await loop.backUpNow()).toBeNull();
  expect(store.snapshotUploads).toBe(0);
  expect(await readBackupManifest(store)).toBeNull();
});

test('the loop never publishes a watermark behind its last backup, even if the store lost it', async () => {
  const {db, store, loop, commit} = setup();
  commit(5);
  const last = await loop.backUpNow();
  await store.delete([MANIFEST_KEY]);
  writeStateVersion(db, versionToLexi(3)); // as a replica that lost its last commits
  await expect(loop.backUpNow()).rejects.toThrow(/at 03, behind the last backup at 05/);
  expect(loop.lastManifest).toEqual(last);
  expect(await readBackupManifest(store)).toBeNull();
});

test('stop waits for the backup in progress and cancels the next run', async () => {
  const {store, timer, loop, commit} = setup();
  commit(1);
  let open!: () => void;
  store.gate = new Promise((r) => (open = r));
  loop.start();
  timer.fire();
  await eventually(() => expect(store.inFlight).toBe(1));
  let stopped = false;
  const stopping = loop.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 50));
  expect(stopped).toBe(false);
  open();
  await stopping;
  expect(store.snapshotUploads).toBe(1);
  expect(timer.pending).toEqual([]);
  await expect(loop.backUpNow()).rejects.toThrow('the backup loop is stopped');
});
