import {afterAll, beforeAll, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

/** /statz answers admins only: HTTP Basic auth with ZERO_ADMIN_PASSWORD (§9.1). */
let db: TestDatabase;
let node: ZcacheNode;

beforeAll(async () => {
  db = await createTestDatabase('statz');
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {NODE_ENV: 'production', ZERO_ADMIN_PASSWORD: 'sesame', ZERO_NUM_SYNC_WORKERS: '1'},
  });
  const proc = node.start();
  await proc.waitForLine(/zcache ready/, {timeoutMs: 60_000});
}, 90_000);

afterAll(async () => {
  await node?.close();
  await db?.drop();
});

const statz = (auth?: string) =>
  fetch(
    `http://127.0.0.1:${node.port}/statz`,
    auth ? {headers: {Authorization: `Basic ${Buffer.from(auth).toString('base64')}`}} : {},
  );

test('/statz without credentials or with a wrong password gets 401 and a Basic challenge', async () => {
  for (const res of [await statz(), await statz('admin:wrong')]) {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="Statz Protected Area"');
  }
});

test('/statz with the admin password reports the replica position and the processes', async () => {
  const res = await statz('anyone:sesame');
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    replica: {stateVersion: string | null; ready: boolean};
    processes: {syncWorkers: number[]};
  };
  expect(body.replica.ready).toBe(true);
  expect(body.replica.stateVersion).toMatch(/^[0-9a-z]+$/);
  expect(body.processes.syncWorkers).toHaveLength(1);
});
