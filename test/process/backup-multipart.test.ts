import http from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {readBackupManifest, restoreReplica, S3ObjectStore} from '../../src/backup/index.js';
import {eventually} from '../support/eventually.js';
import {ITEM} from '../support/item-node.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {expectReplicaEqualsUpstream} from '../support/replica-compare.js';
import {startS3Server, type TestS3Server} from '../support/s3-server.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

/**
 * ZERO_LITESTREAM_MULTIPART_SIZE and _CONCURRENCY reach the replication-manager's uploads: a
 * snapshot larger than one part goes to S3 in parts of exactly that size (the last one smaller),
 * no more of them in flight at once than the concurrency allows, and what they assemble into
 * restores. The manager reaches S3 through an HTTP proxy that records every PUT.
 */
const PART = 5 * 1024 * 1024; // S3's smallest part, well below the 16 MiB default

interface RecordedPut {
  path: string;
  partNumber: number | null;
  bodyBytes: number;
  status: number;
}

/**
 * Forwards every request to `target` unchanged, records each PUT once it is answered, and the
 * most part uploads it ever had in flight at once.
 */
async function startRecordingProxy(target: string) {
  const puts: RecordedPut[] = [];
  const parts = {inFlight: 0, mostInFlight: 0};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, target);
    if (req.method === 'PUT' && url.searchParams.has('partNumber')) {
      parts.mostInFlight = Math.max(parts.mostInFlight, ++parts.inFlight);
      res.on('close', () => parts.inFlight--);
    }
    // The SDK never signs Expect; this server has already answered 100-continue itself.
    const {expect: _continue, ...headers} = req.headers;
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    const upstream = http.request(url, {method: req.method, headers}, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
      if (req.method !== 'PUT') return;
      const part = url.searchParams.get('partNumber');
      puts.push({
        path: decodeURIComponent(url.pathname),
        partNumber: part === null ? null : Number(part),
        bodyBytes,
        status: answer.statusCode!,
      });
    });
    upstream.on('error', (e) => res.destroy(e));
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    puts,
    parts,
    close: () => new Promise((r) => server.close(r).closeAllConnections()),
  };
}

let db: TestDatabase;
let s3: TestS3Server;
let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
let manager: ZcacheNode;
let store: S3ObjectStore;

beforeAll(async () => {
  db = await createTestDatabase('backup_multipart');
  // About 11 MB of base64 of random bytes: a gzipped snapshot of about 8 MiB, so two parts.
  await db.sql.unsafe(`
    CREATE TABLE item (id int PRIMARY KEY, v text);
    INSERT INTO item SELECT g, encode((SELECT string_agg(decode(md5(random()::text || g || k), 'hex'), ''::bytea)
                                         FROM generate_series(1, 256) k), 'base64')
                       FROM generate_series(1, 2000) g;`);
  s3 = await startS3Server();
  Object.assign(process.env, s3.env);
  store = new S3ObjectStore({backupURL: s3.backupURL, endpoint: s3.endpoint});
  proxy = await startRecordingProxy(s3.endpoint);
  manager = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '0',
      ZERO_CHANGE_STREAMER_PORT: String(await freePort()),
      ZERO_LITESTREAM_BACKUP_URL: s3.backupURL,
      ZERO_LITESTREAM_ENDPOINT: proxy.endpoint,
      ZERO_LITESTREAM_MULTIPART_SIZE: String(PART),
      ZERO_LITESTREAM_MULTIPART_CONCURRENCY: '1',
      ZCACHE_CHANGE_STREAMER_SECRET: 'multipart secret',
      ...s3.env,
    },
  });
}, 120_000);

afterAll(async () => {
  await manager?.close();
  await proxy?.close();
  store?.close();
  await s3?.dispose();
  await db?.drop();
});

test('a snapshot larger than ZERO_LITESTREAM_MULTIPART_SIZE is uploaded in parts of that size, one at a time as _CONCURRENCY says, and restores whole', async () => {
  await manager.startAndWaitStreaming({}, 90_000);
  const manifest = await eventually(async () => {
    const m = await readBackupManifest(store);
    expect(m).not.toBeNull();
    return m!;
  }, 90_000);
  expect(manifest.bytes, 'the snapshot spans more than one part').toBeGreaterThan(PART);

  const objectPath = `/${s3.bucket}/${s3.prefix}${manifest.key}`;
  const uploads = proxy.puts.filter((p) => p.path === objectPath);
  const parts = uploads.filter((p) => p.partNumber !== null);
  expect(
    uploads.filter((p) => p.partNumber === null),
    'no single-request upload',
  ).toEqual([]);
  expect(parts.map((p) => p.status)).toEqual(parts.map(() => 200));
  const sizes = parts.sort((a, b) => a.partNumber! - b.partNumber!).map((p) => p.bodyBytes);
  const full = Math.floor(manifest.bytes / PART);
  const expected = [...Array<number>(full).fill(PART), manifest.bytes - full * PART];
  expect(sizes).toEqual(expected.filter((n) => n > 0));
  expect(proxy.parts.mostInFlight, 'parts in flight at once').toBe(1);

  // restoreReplica checks the assembled object against the manifest's sha256 and size.
  const check = path.join(manager.dir, 'restore-check', 'replica.db');
  expect(await restoreReplica(store, check)).toEqual(manifest);
  await expectReplicaEqualsUpstream(db.sql, check, ITEM, ITEM.columns, ITEM.key);
}, 240_000);
