import {spawn, type ChildProcess} from 'node:child_process';
import {createHash} from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {gunzipSync, gzipSync} from 'node:zlib';
import Database from 'better-sqlite3';
import {afterAll, afterEach, beforeAll, expect, test} from 'vitest';
import {startS3Server, type TestS3Server} from '../../test/support/s3-server.js';
import {
  createMetaTables,
  openReplica,
  readStateVersion,
  writeReplicationConfig,
  writeStateVersion,
  type ReplicaDb,
} from '../replica/replica-file.js';
import {versionFromLexi, versionToLexi, type LexiVersion} from '../shared/lexi-version.js';
import {
  CorruptBackupError,
  MalformedManifestError,
  MANIFEST_KEY,
  readBackupManifest,
  snapshotKey,
  type BackupManifest,
} from './backup-manifest.js';
import {BackupStoreError, putJSON, type ObjectStore} from './object-store.js';
import {backUpReplica, restoreReplica} from './replica-snapshot.js';
import {S3ObjectStore} from './s3-object-store.js';

const REPLICA_VERSION = versionToLexi(7_000_000);

let s3: TestS3Server;
let root: string;
let n = 0;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  Object.assign(process.env, s3.env);
  root = mkdtempSync(path.join(tmpdir(), 'zcache-backup-test-'));
});

afterEach(() => cleanups.splice(0).forEach((c) => c()));

afterAll(async () => {
  await s3?.dispose();
  if (root) rmSync(root, {recursive: true, force: true});
});

/** A test's own folder, S3 prefix and store. */
function scratch(storeOpts: {partBytes?: number} = {}) {
  const id = `t${++n}`;
  const dir = path.join(root, id);
  mkdirSync(dir);
  const prefix = `backup-test/${id}/`;
  const store = new S3ObjectStore({
    backupURL: s3.backupURLFor(prefix),
    endpoint: s3.endpoint,
    ...storeOpts,
  });
  cleanups.push(() => store.close());
  return {dir, prefix, store};
}

/** A replica file with the meta tables and an `issues` table holding issues 1..rows. */
function makeReplica(file: string, rows: number, replicaVersion = REPLICA_VERSION): ReplicaDb {
  const db = openReplica(file);
  cleanups.push(() => db.open && db.close());
  createMetaTables(db);
  writeReplicationConfig(db, {replicaVersion, publications: ['zero_data'], slot: 'zero_slot'});
  writeStateVersion(db, versionToLexi(0));
  db.exec(
    'CREATE TABLE issues (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "_0_version" TEXT NOT NULL)',
  );
  for (let i = 1; i <= rows; i++) commitIssue(db, i);
  return db;
}

/** Commits issue i as upstream transaction i: the replica at version i holds issues 1..i. */
function commitIssue(db: ReplicaDb, i: number): LexiVersion {
  const v = versionToLexi(i);
  db.transaction(() => {
    db.prepare('INSERT INTO issues VALUES (?, ?, ?)').run(i, issueTitle(i), v);
    writeStateVersion(db, v);
  })();
  return v;
}

const issueTitle = (i: number) => `issue ${i} `.padEnd(200, '.');

/** Every table's definition and rows. */
function dump(file: string): unknown {
  const db = new Database(file, {readonly: true});
  try {
    const tables = db
      .prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as {type: string; name: string; sql: string}[];
    return tables.map((t) => ({
      ...t,
      rows: t.type === 'table' ? db.prepare(`SELECT * FROM "${t.name}" ORDER BY rowid`).all() : [],
    }));
  } finally {
    db.close();
  }
}

/** Asserts that a replica file holds exactly the issues 1..i of version i, as makeReplica writes. */
function expectIssuesUpTo(file: string, version: LexiVersion): void {
  const db = new Database(file, {readonly: true});
  try {
    expect(db.pragma('quick_check', {simple: true})).toBe('ok');
    expect(readStateVersion(db)).toBe(version);
    const last = Number(versionFromLexi(version));
    const agg = db.prepare('SELECT count(*) c, sum(id) s, max(id) m FROM issues').get() as {
      c: number;
      s: number;
      m: number;
    };
    expect(agg).toEqual({c: last, s: (last * (last + 1)) / 2, m: last});
    const wrong = db
      .prepare('SELECT id, title FROM issues')
      .all()
      .filter((r) => (r as {title: string}).title !== issueTitle((r as {id: number}).id));
    expect(wrong).toEqual([]);
  } finally {
    db.close();
  }
}

/** Another process committing issue after issue to the replica until killed (60 s at most). */
function startWriter(file: string, from: number): Promise<ChildProcess> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.env.WRITER_FILE);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 30000');
    const lexi = (n) => { const b = n.toString(36); return (b.length - 1).toString(36) + b; };
    const ins = db.prepare('INSERT INTO issues VALUES (?, ?, ?)');
    const upd = db.prepare('UPDATE "_zero.replicationState" SET "stateVersion" = ?');
    const commit = db.transaction((n) => {
      ins.run(n, ('issue ' + n + ' ').padEnd(200, '.'), lexi(n));
      upd.run(lexi(n));
    });
    let n = Number(process.env.WRITER_FROM);
    const end = Date.now() + 60000;
    const step = () => {
      for (let i = 0; i < 10; i++) commit(++n);
      if (n === Number(process.env.WRITER_FROM) + 10) process.stdout.write('writing\\n');
      if (Date.now() < end) setImmediate(step); else db.close();
    };
    step();`;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: process.cwd(),
    env: {...process.env, WRITER_FILE: file, WRITER_FROM: String(from)},
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
    child.stdout.once('data', () => resolve(child));
  });
}

test('a restored replica equals the backed-up one, table for table and row for row', async () => {
  const {dir, store} = scratch();
  const file = path.join(dir, 'replica.db');
  const db = makeReplica(file, 50);
  db.exec('CREATE INDEX issues_title ON issues (title)');
  const manifest = await backUpReplica(db, store);
  expect(manifest).toMatchObject({
    format: 1,
    replicaVersion: REPLICA_VERSION,
    watermark: versionToLexi(50),
  });
  const restored = path.join(dir, 'restored', 'replica.db');
  expect(await restoreReplica(store, restored)).toEqual(manifest);
  expect(dump(restored)).toEqual(dump(file));
});

test('a backup taken while another process keeps committing is the replica at one commit', async () => {
  const {dir, store} = scratch();
  const file = path.join(dir, 'replica.db');
  const db = makeReplica(file, 200);
  await startWriter(file, 200);

  const first = await backUpReplica(db, store);
  const second = await backUpReplica(db, store);
  // The writer went on between the two: each snapshot caught it somewhere mid-stream.
  expect(first.watermark > versionToLexi(200)).toBe(true);
  expect(second.watermark > first.watermark).toBe(true);

  const restored = path.join(dir, 'restored.db');
  expect((await restoreReplica(store, restored))?.watermark).toBe(second.watermark);
  expectIssuesUpTo(restored, second.watermark);
});

test('the manifest names the newest snapshot, and a restore brings that one', async () => {
  const {dir, store} = scratch();
  const db = makeReplica(path.join(dir, 'replica.db'), 3);
  const old = await backUpReplica(db, store);
  commitIssue(db, 4);
  const newest = await backUpReplica(db, store);
  expect(newest.key).not.toBe(old.key);
  expect(newest.key.startsWith(`snapshots/${REPLICA_VERSION}/${versionToLexi(4)}-`)).toBe(true);
  expect(await readBackupManifest(store)).toEqual(newest);
  const restored = path.join(dir, 'restored.db');
  await restoreReplica(store, restored);
  expectIssuesUpTo(restored, versionToLexi(4));
});

test('the manifest records the size and sha256 of the stored object', async () => {
  const {dir, prefix, store} = scratch();
  const db = makeReplica(path.join(dir, 'replica.db'), 5);
  const m = await backUpReplica(db, store, {now: () => new Date('2030-01-02T03:04:05Z')});
  const stored = readFileSync(s3.objectFile(prefix + m.key));
  expect(m.bytes).toBe(stored.length);
  expect(m.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
  expect(m.createdAt).toBe('2030-01-02T03:04:05.000Z');
  expect(gunzipSync(stored).subarray(0, 15).toString()).toBe('SQLite format 3');
});

test('retention keeps the newest snapshots and deletes older ones', async () => {
  const {dir, store} = scratch();
  const db = makeReplica(path.join(dir, 'replica.db'), 1);
  const keys: string[] = [];
  for (let i = 2; i <= 5; i++) {
    commitIssue(db, i);
    keys.push((await backUpReplica(db, store, {retain: 2})).key);
  }
  const left = (await store.list('snapshots/')).map((o) => o.key).sort();
  expect(left).toEqual(keys.slice(-2).sort());
  commitIssue(db, 6);
  const only = await backUpReplica(db, store, {retain: 1});
  expect((await store.list('snapshots/')).map((o) => o.key)).toEqual([only.key]);
});

test('a snapshot larger than one upload part round-trips', async () => {
  const {dir, store} = scratch({partBytes: 5 * 1024 * 1024});
  const file = path.join(dir, 'replica.db');
  const db = makeReplica(file, 1);
  db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)');
  const insert = db.prepare('INSERT INTO blobs (data) VALUES (randomblob(1048576))');
  db.transaction(() => Array.from({length: 12}, () => insert.run()))();
  const m = await backUpReplica(db, store);
  expect(m.bytes).toBeGreaterThan(10 * 1024 * 1024);
  const restored = path.join(dir, 'restored.db');
  await restoreReplica(store, restored);
  // Digests: comparing megabyte buffers element by element would take the test's whole budget.
  const blobDigests = (f: string) => {
    const d = new Database(f, {readonly: true});
    try {
      return (d.prepare('SELECT id, data FROM blobs ORDER BY id').all() as {data: Buffer}[]).map(
        (r) => createHash('sha256').update(r.data).digest('hex'),
      );
    } finally {
      d.close();
    }
  };
  expect(blobDigests(restored)).toEqual(blobDigests(file));
  expect(blobDigests(file)).toHaveLength(12);
});

test('restore with no backup in the store returns null and creates nothing', async () => {
  const {dir, store} = scratch();
  const target = path.join(dir, 'replica.db');
  expect(await restoreReplica(store, target)).toBeNull();
  expect(readdirSync(dir)).toEqual([]);
});

test('restore replaces an existing replica and removes its stale WAL files', async () => {
  const {dir, store} = scratch();
  const db = makeReplica(path.join(dir, 'source.db'), 4);
  await backUpReplica(db, store);
  const target = path.join(dir, 'replica.db');
  writeFileSync(target, 'old replica');
  writeFileSync(target + '-wal', 'old wal');
  writeFileSync(target + '-shm', 'old shm');
  await restoreReplica(store, target);
  expect(existsSync(target + '-wal')).toBe(false);
  expect(existsSync(target + '-shm')).toBe(false);
  expectIssuesUpTo(target, versionToLexi(4));
  expect(readdirSync(dir).sort()).toEqual([
    'replica.db',
    'source.db',
    'source.db-shm',
    'source.db-wal',
  ]);
});

test('backup removes its temporary files, after success and after failure', async () => {
  const {dir, store} = scratch();
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp);
  const db = makeReplica(path.join(dir, 'replica.db'), 2);
  await backUpReplica(db, store, {tmpDir: tmp});
  expect(readdirSync(tmp)).toEqual([]);
  commitIssue(db, 3);
  await expect(backUpReplica(db, failingUploads(store), {tmpDir: tmp})).rejects.toThrow(
    'injected upload failure',
  );
  expect(readdirSync(tmp)).toEqual([]);
});

test('a failed snapshot upload leaves the previous manifest in force', async () => {
  const {dir, store} = scratch();
  const db = makeReplica(path.join(dir, 'replica.db'), 2);
  const published = await backUpReplica(db, store);
  commitIssue(db, 3);
  await expect(backUpReplica(db, failingUploads(store))).rejects.toThrow('injected upload failure');
  expect(await readBackupManifest(store)).toEqual(published);
});

test('the manifest is written only after the snapshot it names is stored', async () => {
  const {dir, store} = scratch();
  const db = makeReplica(path.join(dir, 'replica.db'), 2);
  const events: string[] = [];
  const recording: ObjectStore = {
    ...bind(store),
    putFile: async (key, file) => {
      events.push(`start ${key}`);
      await store.putFile(key, file);
      events.push(`stored ${key}`);
    },
    putBytes: async (key, bytes, type) => {
      events.push(`start ${key}`);
      await store.putBytes(key, bytes, type);
    },
  };
  const m = await backUpReplica(db, recording);
  expect(events).toEqual([`start ${m.key}`, `stored ${m.key}`, `start ${MANIFEST_KEY}`]);
});

test('a backup behind the published one is refused and the manifest stays', async () => {
  const {dir, store} = scratch();
  const ahead = makeReplica(path.join(dir, 'ahead.db'), 5);
  const published = await backUpReplica(ahead, store);
  const behind = makeReplica(path.join(dir, 'behind.db'), 3);
  await expect(backUpReplica(behind, store)).rejects.toThrow(
    /at 03\) is behind the published backup \(.*at 05\); not publishing it/,
  );
  const olderResync = makeReplica(path.join(dir, 'older.db'), 9, versionToLexi(6_000_000));
  await expect(backUpReplica(olderResync, store)).rejects.toThrow('is behind the published backup');
  expect(await readBackupManifest(store)).toEqual(published);
});

test('a replica without replication state cannot be backed up', async () => {
  const {dir, store} = scratch();
  const db = openReplica(path.join(dir, 'empty.db'));
  cleanups.push(() => db.close());
  createMetaTables(db);
  await expect(backUpReplica(db, store)).rejects.toThrow(
    'has no replicationConfig or stateVersion',
  );
  expect(await readBackupManifest(store)).toBeNull();
});

/** Publishes one good backup and returns what a corruption test needs. */
async function published() {
  const {dir, prefix, store} = scratch();
  const db = makeReplica(path.join(dir, 'source.db'), 20);
  const manifest = await backUpReplica(db, store);
  const target = path.join(dir, 'target', 'replica.db');
  mkdirSync(path.dirname(target));
  writeFileSync(target, 'the replica in use');
  writeFileSync(target + '-wal', 'its wal');
  return {dir, prefix, store, manifest, target};
}

/** Restore must throw CorruptBackupError and leave the target folder as it was. */
async function expectCorrupt(store: ObjectStore, target: string, message: string | RegExp) {
  const err = await restoreReplica(store, target).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CorruptBackupError);
  expect((err as Error).message).toMatch(message);
  expect(readFileSync(target, 'utf8')).toBe('the replica in use');
  expect(readFileSync(target + '-wal', 'utf8')).toBe('its wal');
  expect(readdirSync(path.dirname(target)).sort()).toEqual(['replica.db', 'replica.db-wal']);
}

test('a snapshot whose stored bytes changed fails its hash check', async () => {
  const {prefix, store, manifest, target} = await published();
  const file = s3.objectFile(prefix + manifest.key);
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(file, bytes);
  await expectCorrupt(store, target, /has sha256 [0-9a-f]{64} .* but the manifest says/);
});

test('garbage uploaded under the snapshot key fails its hash check', async () => {
  const {store, manifest, target} = await published();
  await store.putBytes(manifest.key, Buffer.from('not a snapshot'));
  await expectCorrupt(store, target, 'but the manifest says');
});

/** Uploads `bytes` as a snapshot claiming the given versions, and a manifest that vouches for it. */
async function publishRaw(store: ObjectStore, bytes: Buffer, watermark: LexiVersion) {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const key = snapshotKey(REPLICA_VERSION, watermark, sha256);
  await store.putBytes(key, bytes);
  const m: BackupManifest = {
    format: 1,
    replicaVersion: REPLICA_VERSION,
    watermark,
    key,
    bytes: bytes.length,
    sha256,
    createdAt: new Date().toISOString(),
  };
  await putJSON(store, MANIFEST_KEY, m);
}

test('a snapshot that is not gzip is corrupt', async () => {
  const {store, manifest, target} = await published();
  await publishRaw(store, Buffer.from('plain bytes, no gzip header'), manifest.watermark);
  await expectCorrupt(store, target, 'is not valid gzip');
});

test('a snapshot whose gzip is cut short is corrupt', async () => {
  const {prefix, store, manifest, target} = await published();
  const whole = readFileSync(s3.objectFile(prefix + manifest.key));
  await publishRaw(store, whole.subarray(0, whole.length - 100), manifest.watermark);
  await expectCorrupt(store, target, 'is not valid gzip');
});

test('a snapshot that is not SQLite is corrupt', async () => {
  const {store, manifest, target} = await published();
  await publishRaw(store, gzipSync(Buffer.alloc(8192, 7)), manifest.watermark);
  await expectCorrupt(store, target, 'is not a sound SQLite database');
});

test('a snapshot with damaged pages fails quick_check', async () => {
  const {prefix, store, manifest, target} = await published();
  const db = gunzipSync(readFileSync(s3.objectFile(prefix + manifest.key)));
  const pageSize = db.readUInt16BE(16);
  const lastPage = db.length - pageSize;
  db.fill(0xa5, lastPage + 8, lastPage + pageSize); // a b-tree page's cells, header kept
  await publishRaw(store, gzipSync(db), manifest.watermark);
  await expectCorrupt(store, target, /fails quick_check|is not a sound SQLite database/);
});

test('a snapshot at another version than its manifest says is corrupt', async () => {
  const {prefix, store, manifest, target} = await published();
  const whole = readFileSync(s3.objectFile(prefix + manifest.key));
  await publishRaw(store, whole, versionToLexi(21));
  await expectCorrupt(
    store,
    target,
    `holds replicaVersion ${REPLICA_VERSION} at ${versionToLexi(20)}, but the manifest says ` +
      `${REPLICA_VERSION} at ${versionToLexi(21)}`,
  );
});

test('a manifest naming a missing snapshot is corrupt', async () => {
  const {store, manifest, target} = await published();
  await store.delete([manifest.key]);
  await expectCorrupt(store, target, `the manifest names ${manifest.key}, which does not exist`);
});

test('a restore whose snapshot is deleted by a newer backup meanwhile restores the newer one', async () => {
  const {dir, store} = scratch();
  const db = makeReplica(path.join(dir, 'source.db'), 3);
  const old = await backUpReplica(db, store);
  let newer: BackupManifest | undefined;
  const racing: ObjectStore = {
    ...bind(store),
    getFile: async (key, file) => {
      if (key === old.key && !newer) {
        commitIssue(db, 4);
        newer = await backUpReplica(db, store, {retain: 1}); // deletes old.key
      }
      return store.getFile(key, file);
    },
  };
  const target = path.join(dir, 'replica.db');
  expect(await restoreReplica(racing, target)).toEqual(newer);
  expectIssuesUpTo(target, versionToLexi(4));
});

test.each([
  ['not JSON', '{"format": 1,', /manifest.json is malformed: .*JSON/],
  ['a newer format', '{"format": 2}', 'format 2 is not supported'],
  ['a missing field', '{"format": 1, "replicaVersion": "00"}', /malformed: .*watermark/],
  ['a key outside snapshots/', null, /malformed: .*key/],
])('a manifest with %s is a MalformedManifestError', async (_what, text, message) => {
  const {store, manifest, target} = await published();
  const body = text ?? JSON.stringify({...manifest, key: '../elsewhere.db.gz'});
  await store.putBytes(MANIFEST_KEY, Buffer.from(body));
  await expect(readBackupManifest(store)).rejects.toThrow(MalformedManifestError);
  await expect(readBackupManifest(store)).rejects.toThrow(message);
  await expectCorrupt(store, target, message);
});

test('a store failure during restore is a BackupStoreError, not corruption', async () => {
  const {store, target} = await published();
  await s3.stop();
  try {
    const err = await restoreReplica(store, target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupStoreError);
    expect(err).not.toBeInstanceOf(CorruptBackupError);
    expect(readFileSync(target, 'utf8')).toBe('the replica in use');
  } finally {
    await s3.start();
  }
});

test('backup with S3 unreachable fails within seconds, saying what to check', async () => {
  const {dir, store} = scratch();
  const db = makeReplica(path.join(dir, 'replica.db'), 2);
  await s3.stop();
  try {
    const started = Date.now();
    const err = await backUpReplica(db, store).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err).toBeInstanceOf(BackupStoreError);
    expect((err as Error).message).toMatch(/^backup: download of manifest.json: .*cannot reach/);
    expect((err as Error).message).toContain('check ZERO_LITESTREAM_ENDPOINT');
  } finally {
    await s3.start();
  }
});

function bind(store: ObjectStore): ObjectStore {
  return {
    location: store.location,
    putFile: (k, f) => store.putFile(k, f),
    putBytes: (k, b, t) => store.putBytes(k, b, t),
    getFile: (k, f) => store.getFile(k, f),
    getBytes: (k) => store.getBytes(k),
    delete: (ks) => store.delete(ks),
    list: (p) => store.list(p),
  };
}

function failingUploads(store: ObjectStore): ObjectStore {
  return {
    ...bind(store),
    putFile: (key) =>
      Promise.reject(new BackupStoreError('upload', key, 'injected upload failure')),
  };
}
