import {connect} from 'node:net';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {
  ANYONE_CAN,
  createSchema,
  definePermissions,
  number,
  string,
  table,
  Zero,
} from '@rocicorp/zero';
import NodeWebSocket from 'ws';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';
import {readBackupManifest, S3ObjectStore} from '../../src/backup/index.js';
import {eventually} from '../support/eventually.js';
import {expectReplicaEqualsUpstream} from '../support/replica-compare.js';
import {startTcpBalancer, type TcpBalancer} from '../support/tcp-balancer.js';
import {deleteReplicaFiles} from '../../src/server/replication-node.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {viewSyncerEnv} from '../support/multi-node-env.js';
import {freePort} from '../support/ports.js';
import {startS3Server, type TestS3Server} from '../support/s3-server.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, replicaStateVersion, type ZcacheNode} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * A real multi-node deployment, each role its own process tree: one replication-manager (owns the
 * slot and the change log, backs its replica up to an S3 server started here) and view-syncers
 * that restore the replica from S3 and follow the manager. The real client on each view-syncer.
 */
const item = table('item').columns({id: number(), v: string()}).primaryKey('id');
const schema = createSchema({tables: [item], enableLegacyQueries: true});

let db: TestDatabase;
let s3: TestS3Server;
let manager: ZcacheNode;
let changeStreamerPort: number;
let balancer: TcpBalancer;
const viewSyncers: ZcacheNode[] = [];
const clients: Zero<typeof schema>[] = [];

/** Set on every role, so that the whole path runs with the change-streamer's secret required. */
const CHANGE_STREAMER_SECRET = 'multi-node test secret';

async function startViewSyncer(): Promise<ZcacheNode> {
  const node = await createZcacheNode({
    upstreamUrl: db.url,
    env: viewSyncerEnv(s3, changeStreamerPort, CHANGE_STREAMER_SECRET),
  });
  viewSyncers.push(node);
  await node.start().waitForLine(/zcache ready/, {timeoutMs: 60_000});
  return node;
}

function clientOn(node: ZcacheNode | 'balancer', userID: string): Zero<typeof schema> {
  const port = node === 'balancer' ? balancer.port : node.port;
  const z = new Zero({server: `http://127.0.0.1:${port}`, userID, schema, kvStore: 'mem'});
  clients.push(z);
  return z;
}

const ITEM = {upstream: 'item', replica: 'item'};
const ITEM_COLUMNS = {id: 'number', v: 'text'} as const;

/** Every running view-syncer's replica holds exactly what Postgres holds. */
async function expectEveryReplicaEqualsUpstream(): Promise<void> {
  for (const n of viewSyncers.filter((v) => v.proc && !v.proc.exit)) {
    await eventually(() =>
      expectReplicaEqualsUpstream(db.sql, n.replicaFile, ITEM, ITEM_COLUMNS, ['id']),
    );
  }
}

/** Inserts rows one transaction each until stopped; resolves with how many it wrote. */
function keepWriting(firstId: number): {stop(): Promise<number>} {
  let running = true;
  const done = (async () => {
    let id = firstId;
    while (running) {
      await db.sql`INSERT INTO item VALUES (${id++}, 'stream')`;
      await new Promise((r) => setTimeout(r, 10));
    }
    return id - firstId;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

/** Restarts view-syncers that exited, as an orchestrator would. */
async function restartExitedViewSyncers(): Promise<void> {
  for (const n of viewSyncers) {
    if (n.proc?.exit) await n.start().waitForLine(/zcache ready/, {timeoutMs: 90_000});
  }
}

async function upstreamIds(): Promise<number[]> {
  return (await db.sql`SELECT id FROM item ORDER BY id`).map((r) => r.id as number);
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_multi_node');
  await db.sql.unsafe(`
    CREATE TABLE item (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO item SELECT g, 'v' || g FROM generate_series(1, 50) g;`);
  s3 = await startS3Server();
  Object.assign(process.env, s3.env); // for this test's own look at the bucket
  changeStreamerPort = await freePort();
  manager = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '0',
      ZERO_CHANGE_STREAMER_PORT: String(changeStreamerPort),
      ZERO_LITESTREAM_BACKUP_URL: s3.backupURL,
      ZERO_LITESTREAM_ENDPOINT: s3.endpoint,
      ZCACHE_BACKUP_INTERVAL_MS: '500',
      ZCACHE_CHANGE_STREAMER_SECRET: CHANGE_STREAMER_SECRET,
      ZCACHE_CHANGE_STREAMER_BIND_ADDRESS: '127.0.0.1',
      ...s3.env,
    },
  });
  await manager.startAndWaitStreaming();
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    item: {row: {select: ANYONE_CAN}},
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
  await startViewSyncer();
  await startViewSyncer();
  // The load balancer in front of the view-syncers that are running.
  balancer = await startTcpBalancer(() =>
    viewSyncers.filter((n) => n.proc && !n.proc.exit).map((n) => n.port),
  );
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await balancer?.close();
  for (const n of viewSyncers) await n.close();
  await manager?.close();
  await s3?.dispose();
  await db?.drop();
});

test('clients on either view-syncer see writes made in Postgres', async () => {
  const views = viewSyncers
    .slice(0, 2)
    .map((n, i) => clientOn(n, `u${i}`).query.item.orderBy('id', 'asc').materialize());
  for (const view of views) {
    await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
  }
  await db.sql`INSERT INTO item VALUES (1000, 'new')`;
  await db.sql`UPDATE item SET v = 'changed' WHERE id = 1`;
  await db.sql`DELETE FROM item WHERE id = 2`;
  for (const view of views) {
    await eventually(async () => {
      expect(view.data.map((r) => r.id)).toEqual(await upstreamIds());
      expect(view.data.find((r) => r.id === 1)?.v).toBe('changed');
    });
    view.destroy();
  }
}, 60_000);

test('the manager refuses a change-stream request without its secret with 401', async () => {
  const ws = new NodeWebSocket(
    `ws://127.0.0.1:${changeStreamerPort}/replication/v4/snapshot?taskID=stranger`,
  );
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
    ws.once('open', () => reject(new Error('the manager let a request without the secret in')));
    ws.once('error', reject);
  });
  ws.terminate();
  expect(status).toBe(401);
});

test('the manager listens on its bind address only', async () => {
  // 127.0.0.2 is this machine too (the loopback range), but not the address the manager bound.
  const reach = (host: string) =>
    new Promise<string>((resolve) => {
      const socket = connect({host, port: changeStreamerPort});
      socket.once('connect', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  expect(await reach('127.0.0.1')).toBe('connected');
  expect(await reach('127.0.0.2')).toBe('ECONNREFUSED');
});

test('a view-syncer added later restores its replica from S3, not from Postgres, and serves', async () => {
  await db.sql`INSERT INTO item SELECT g, 'later' FROM generate_series(2000, 2100) g`;
  const slotsBefore = await db.sql`SELECT slot_name FROM pg_replication_slots`;
  const third = await startViewSyncer();
  const restored = third.proc!.lines.find((l) => /restored the replica from s3:\/\//.test(l));
  expect(restored, third.proc!.describe()).toBeDefined();
  expect(third.proc!.lines.some((l) => /initial sync/.test(l))).toBe(false);
  // It made no replication slot of its own: only the manager replicates from Postgres.
  expect(await db.sql`SELECT slot_name FROM pg_replication_slots`).toEqual(slotsBefore);
  const view = clientOn(third, 'late').query.item.orderBy('id', 'asc').materialize();
  await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
  await db.sql`INSERT INTO item VALUES (3000, 'after the restore')`;
  await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
  view.destroy();
}, 90_000);

test('a view-syncer killed with SIGKILL: its clients reconnect to another one and end equal to Postgres', async () => {
  const view = clientOn('balancer', 'moved').query.item.orderBy('id', 'asc').materialize();
  await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
  const servedBy = viewSyncers.find((n) => n.port === balancer.routed.at(-1))!;
  await servedBy.proc!.kill();
  await db.sql`INSERT INTO item VALUES (4000, 'while moving')`;
  await db.sql`DELETE FROM item WHERE id = 3`;
  await eventually(
    async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()),
    30_000,
  );
  expect(balancer.routed.at(-1)).not.toBe(servedBy.port);
  view.destroy();
  await restartExitedViewSyncers();
}, 90_000);

test('the manager killed with SIGKILL during writes and restarted: no change lost or duplicated', async () => {
  const view = clientOn('balancer', 'steady').query.item.orderBy('id', 'asc').materialize();
  const writer = keepWriting(10_000);
  await new Promise((r) => setTimeout(r, 1000));
  await manager.proc!.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await manager.startAndWaitStreaming();
  await new Promise((r) => setTimeout(r, 1000));
  const written = await writer.stop();
  expect(written).toBeGreaterThan(50);
  await eventually(
    async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()),
    30_000,
  );
  await expectEveryReplicaEqualsUpstream();
  // Each upstream transaction is in the change log once (its watermark is the log's key).
  const [row] = await db.sql`SELECT count(*)::int AS dupes FROM (
      SELECT "watermark" FROM "zero_0/cdc"."changeLog" WHERE pos = 0
      GROUP BY "watermark" HAVING count(*) > 1) d`;
  expect(row?.dupes).toBe(0);
  view.destroy();
}, 120_000);

test('a view-syncer started while its manager is down waits, says so, and serves once it is back', async () => {
  await manager.proc!.kill();
  const early = await createZcacheNode({
    upstreamUrl: db.url,
    env: viewSyncerEnv(s3, changeStreamerPort, CHANGE_STREAMER_SECRET),
  });
  viewSyncers.push(early);
  const proc = early.start();
  await proc.waitForLine(/waiting for the replication-manager at ws:\/\/127\.0\.0\.1:\d+/, {
    timeoutMs: 30_000,
  });
  await manager.startAndWaitStreaming();
  await proc.waitForLine(/zcache ready/, {timeoutMs: 60_000});
  const view = clientOn(early, 'early').query.item.orderBy('id', 'asc').materialize();
  await db.sql`INSERT INTO item VALUES (4500, 'after the wait')`;
  await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
  view.destroy();
}, 120_000);

test('a connection its client gave up on while the view-syncer was starting is dropped, not served', async () => {
  await manager.proc!.kill();
  const node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ...viewSyncerEnv(s3, changeStreamerPort, CHANGE_STREAMER_SECRET),
      ZERO_LOG_LEVEL: 'debug',
    },
  });
  try {
    const proc = node.start();
    await proc.waitForLine(/waiting for the replication-manager/, {timeoutMs: 30_000});
    // The Zero client gives up on a connection after 10 s; a node restoring its replica, or
    // waiting for its manager, can take longer than that to serve it.
    const from = proc.lines.length;
    const init = [
      'initConnection',
      {
        desiredQueriesPatch: [
          {op: 'put', hash: 'q', ast: {table: 'item', orderBy: [['id', 'asc']]}},
        ],
        clientSchema: {
          tables: {
            item: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']},
          },
        },
      },
    ];
    const gaveUp = new NodeWebSocket(
      `ws://127.0.0.1:${node.port}/sync/v44/connect?clientID=g1&clientGroupID=ghost-group&ts=1&lmid=0`,
      [encodeSecProtocols({initConnectionMessage: init as never})],
    );
    gaveUp.on('error', () => {});
    await proc.waitForLine(/handing \/sync\/.*ghost-group/, {from, timeoutMs: 10_000});
    gaveUp.terminate();
    await manager.startAndWaitStreaming();
    await proc.waitForLine(/zcache ready/, {timeoutMs: 60_000});
    // A client connecting now is served; connections are handed over in order, so once it is,
    // the one that was left waiting would have been too.
    const view = clientOn(node, 'after-ghost').query.item.orderBy('id', 'asc').materialize();
    await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
    view.destroy();
    expect(proc.lines.some((l) => /sync connection: .*group \S+ client/.test(l))).toBe(true);
    expect(proc.lines.filter((l) => /sync connection: .*group ghost-group/.test(l))).toEqual([]);
    const [cvr] = await db.sql`SELECT count(*)::int AS n FROM "zero_0/cvr".instances
      WHERE "clientGroupID" = 'ghost-group'`;
    expect(cvr?.n).toBe(0);
  } finally {
    await node.close();
  }
}, 120_000);

test('S3 unreachable for a while: replication goes on, the backup resumes, nothing is lost', async () => {
  const store = new S3ObjectStore({backupURL: s3.backupURL, endpoint: s3.endpoint});
  const view = clientOn('balancer', 'no-s3').query.item.orderBy('id', 'asc').materialize();
  const from = manager.proc!.lines.length;
  await s3.stop();
  await db.sql`INSERT INTO item SELECT g, 'no s3' FROM generate_series(5000, 5100) g`;
  await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
  await manager.proc!.waitForLine(/backup.*fail/i, {from, timeoutMs: 20_000});
  await s3.start();
  // The next backup covers what was written while S3 was away.
  await eventually(async () => {
    const manifest = await readBackupManifest(store);
    expect(manifest?.watermark).toBe(replicaStateVersion(manager.replicaFile));
  }, 30_000);
  await expectEveryReplicaEqualsUpstream();
  view.destroy();
}, 90_000);

test('S3 unreachable while a new view-syncer restores: it says so, retries, and serves once S3 is back', async () => {
  await db.sql`INSERT INTO item VALUES (5500, 'before the restore')`;
  await s3.stop();
  const node = await createZcacheNode({
    upstreamUrl: db.url,
    env: viewSyncerEnv(s3, changeStreamerPort, CHANGE_STREAMER_SECRET),
  });
  viewSyncers.push(node);
  const proc = node.start();
  try {
    await proc.waitForLine(/cannot restore: .*retrying in/, {timeoutMs: 60_000});
  } finally {
    await s3.start();
  }
  await proc.waitForLine(/zcache ready/, {timeoutMs: 90_000});
  await db.sql`INSERT INTO item VALUES (5501, 'after the restore')`;
  await eventually(() =>
    expectReplicaEqualsUpstream(db.sql, node.replicaFile, ITEM, ITEM_COLUMNS, ['id']),
  );
}, 180_000);

test("the manager's replica and backup deleted: it resyncs, and the view-syncers recover", async () => {
  const view = clientOn('balancer', 'resync').query.item.orderBy('id', 'asc').materialize();
  await eventually(async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()));
  await manager.proc!.kill();
  deleteReplicaFiles(manager.replicaFile);
  const store = new S3ObjectStore({backupURL: s3.backupURL, endpoint: s3.endpoint});
  await store.delete((await store.list('')).map((o) => o.key));
  await manager.startAndWaitStreaming();
  expect(manager.proc!.lines.some((l) => /initial sync: no replica yet/.test(l))).toBe(true);
  await db.sql`INSERT INTO item VALUES (6000, 'after the resync')`;
  // The view-syncers' replicas belong to the old replica version: they exit, and restarted, restore.
  for (const n of viewSyncers) {
    if (n.proc && !n.proc.exit) await n.proc.waitForExit(30_000);
  }
  await restartExitedViewSyncers();
  await expectEveryReplicaEqualsUpstream();
  await eventually(
    async () => expect(view.data.map((r) => r.id)).toEqual(await upstreamIds()),
    60_000,
  ).catch((e: Error) => {
    // Seen rarely under full-suite load before connections given up on were dropped (see
    // docs/durability.md, guarantee 11): keep what the servers said and where the client went.
    const logs = viewSyncers.map(
      (n, i) => `view-syncer ${i} (port ${n.port}):\n${n.proc?.describe() ?? ''}`,
    );
    logs.push(`the balancer routed to ports: ${balancer.routed.join(' ')}`);
    logs.push(`manager:\n${manager.proc?.describe() ?? ''}`);
    throw new Error(`${e.message}\n${logs.join('\n')}`);
  });
  view.destroy();
}, 180_000);
