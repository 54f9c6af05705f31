import {readdirSync} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {readBackupManifest, restoreReplica, S3ObjectStore} from '../../src/backup/index.js';
import {eventually} from '../support/eventually.js';
import {ITEM} from '../support/item-node.js';
import {viewSyncerEnv} from '../support/multi-node-env.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {startS3Server, type TestS3Server} from '../support/s3-server.js';
import {
  createZcacheNode,
  waitForReplicaToEqualUpstream,
  type ZcacheNode,
} from '../support/zcache-process.js';

/**
 * The replication-manager SIGKILLed while a backup upload is in flight. The manager reaches S3
 * through a TCP proxy that can hold the next snapshot upload after its first body bytes have
 * reached S3: the kill lands mid-upload every time, not by luck.
 */
const SECRET = 'mid-backup secret';

/** Forwards to `port`; when armed, stops forwarding a snapshot PUT after 64 KiB of it. */
async function startHoldingProxy(port: number) {
  let armed = false;
  let onHeld: () => void = () => {};
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    // Counting from a snapshot PUT's first bytes (its body may follow a 100-continue), then
    // stopped once 64 KiB of it went through: the upload never completes.
    let counting = false;
    let stopped = false;
    let forwarded = 0;
    client.on('data', (chunk) => {
      if (stopped) return;
      if (armed && /(^|\r\n)PUT \S*\/snapshots\//.test(chunk.toString('latin1', 0, 400))) {
        armed = false;
        counting = true;
      }
      upstream.write(chunk);
      if (!counting) return;
      forwarded += chunk.length;
      if (forwarded < 64 * 1024) return;
      stopped = true;
      onHeld();
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const close = () => (client.destroy(), upstream.destroy());
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    /** Resolves once the next snapshot upload is held with 64 KiB of it forwarded. */
    holdNextSnapshotUpload(): Promise<void> {
      armed = true;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no snapshot upload within 60 s')), 60_000);
        onHeld = () => (clearTimeout(timer), resolve());
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

let db: TestDatabase;
let s3: TestS3Server;
let proxy: Awaited<ReturnType<typeof startHoldingProxy>>;
let manager: ZcacheNode;
let store: S3ObjectStore;
const nodes: ZcacheNode[] = [];

beforeAll(async () => {
  db = await createTestDatabase('mid_backup');
  // About 3 MB of barely compressible text: an upload of a few hundred KiB at least.
  await db.sql.unsafe(`
    CREATE TABLE item (id int PRIMARY KEY, v text);
    INSERT INTO item SELECT g, (SELECT string_agg(md5(random()::text || g || k), '')
                                  FROM generate_series(1, 32) k) FROM generate_series(1, 3000) g;`);
  s3 = await startS3Server();
  Object.assign(process.env, s3.env);
  store = new S3ObjectStore({backupURL: s3.backupURL, endpoint: s3.endpoint});
  proxy = await startHoldingProxy(Number(new URL(s3.endpoint).port));
  manager = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '0',
      ZERO_CHANGE_STREAMER_PORT: String(await freePort()),
      ZERO_LITESTREAM_BACKUP_URL: s3.backupURL,
      ZERO_LITESTREAM_ENDPOINT: proxy.endpoint,
      ZCACHE_BACKUP_INTERVAL_MS: '500',
      ZCACHE_CHANGE_STREAMER_SECRET: SECRET,
      ...s3.env,
    },
  });
  nodes.push(manager);
}, 120_000);

afterAll(async () => {
  for (const n of nodes) await n.close();
  await proxy?.close();
  store?.close();
  await s3?.dispose();
  await db?.drop();
});

test('the manager SIGKILLed mid-upload: the published backup stays the last complete one, the restarted manager publishes a new one and leaves no half-made copy behind, and a new view-syncer restores it and equals upstream', async () => {
  await manager.startAndWaitStreaming();
  const first = await eventually(async () => {
    const m = await readBackupManifest(store);
    expect(m).not.toBeNull();
    return m!;
  }, 60_000);

  // A change, so the next backup is of a new state; that upload is held in flight.
  const held = proxy.holdNextSnapshotUpload();
  await db.sql`UPDATE item SET v = 'after the first backup' WHERE id <= 500`;
  await held;
  await manager.proc!.kill();
  const workOf = () => readdirSync(manager.dir).filter((f) => f.startsWith('.zcache-backup-'));
  const abandoned = workOf();
  expect(abandoned.length, 'the killed backup left its working copy').toBeGreaterThan(0);

  // Nothing half-written was published: the manifest is the first backup, which restores whole.
  expect(await readBackupManifest(store)).toEqual(first);
  const check = path.join(manager.dir, 'restore-check', 'replica.db');
  expect((await restoreReplica(store, check))?.watermark).toBe(first.watermark);

  await manager.startAndWaitStreaming();
  const second = await eventually(async () => {
    const m = await readBackupManifest(store);
    expect(m!.watermark > first.watermark).toBe(true);
    return m!;
  }, 60_000);
  expect(second.replicaVersion).toBe(first.replicaVersion);
  // The killed backup's working copy (as large as the replica) was removed, not left to pile up.
  expect(workOf().filter((f) => abandoned.includes(f))).toEqual([]);

  const viewSyncer = await createZcacheNode({
    upstreamUrl: db.url,
    env: viewSyncerEnv(s3, Number(manager.env.ZERO_CHANGE_STREAMER_PORT), SECRET),
  });
  nodes.push(viewSyncer);
  const proc = viewSyncer.start();
  await proc.waitForLine(/zcache ready/, {timeoutMs: 90_000});
  expect(proc.lines.some((l) => /restored the replica from s3:\/\//.test(l))).toBe(true);
  await db.sql`INSERT INTO item VALUES (5000, 'after the restore')`;
  await waitForReplicaToEqualUpstream(db.sql, viewSyncer.replicaFile, [ITEM], 60_000);
  await waitForReplicaToEqualUpstream(db.sql, manager.replicaFile, [ITEM], 60_000);
}, 240_000);
