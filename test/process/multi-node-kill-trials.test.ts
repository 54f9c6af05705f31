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
import {eventually} from '../support/eventually.js';
import {
  LEDGER_SETUP,
  LEDGER_TABLES,
  ledgerPrefix,
  prng,
  sleep,
  Writer,
} from '../support/ledger-writer.js';
import {managerEnv, viewSyncerEnv} from '../support/multi-node-env.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {expectReplicaEqualsUpstream} from '../support/replica-compare.js';
import {startS3Server, type TestS3Server} from '../support/s3-server.js';
import {startTcpBalancer, type TcpBalancer} from '../support/tcp-balancer.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {
  createZcacheNode,
  upstreamPosition,
  waitForStateVersion,
  type ZcacheNode,
} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * The multi-node counterpart of crash-safety.test.ts: a replication-manager (backing up to a test
 * S3 server) and two view-syncers behind a load balancer, real clients attached through it, and
 * upstream committing the ledger workload all along. Each trial SIGKILLs the manager, a view-syncer
 * or both at a seeded random moment, restarts them, and checks at a consistent point mid-stream:
 * every replica holds the ledger as a gap-free prefix covering everything committed before the
 * kill, counted once by the counters; each client's view is consistent the same way. After the
 * last trial every replica equals upstream table by table, and the clients' views equal upstream.
 *
 * ZCACHE_KILL_TRIALS=<n> (default 3) for long runs; ZCACHE_TEST_SEED=<seed> replays a run.
 */
const TRIALS = Number(process.env.ZCACHE_KILL_TRIALS ?? 3);
const SECRET = 'kill trials secret';

const counter = table('counter')
  .columns({id: number(), n: number(), payload: string()})
  .primaryKey('id');
const ledger = table('ledger')
  .columns({seq: number(), counter_id: number(), note: string()})
  .primaryKey('seq');
const schema = createSchema({tables: [counter, ledger], enableLegacyQueries: true});

let db: TestDatabase;
let s3: TestS3Server;
let manager: ZcacheNode;
let balancer: TcpBalancer;
const viewSyncers: ZcacheNode[] = [];
const clients: Zero<typeof schema>[] = [];

async function startViewSyncer(node: ZcacheNode): Promise<void> {
  await node.start().waitForLine(/zcache ready/, {timeoutMs: 120_000});
}

beforeAll(async () => {
  db = await createTestDatabase('kill_trials');
  await db.sql.unsafe(LEDGER_SETUP);
  s3 = await startS3Server();
  const changeStreamerPort = await freePort();
  manager = await createZcacheNode({
    upstreamUrl: db.url,
    env: managerEnv(s3, changeStreamerPort, SECRET),
  });
  await manager.startAndWaitStreaming();
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    counter: {row: {select: ANYONE_CAN}},
    ledger: {row: {select: ANYONE_CAN}},
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
  for (let i = 0; i < 2; i++) {
    const node = await createZcacheNode({
      upstreamUrl: db.url,
      env: viewSyncerEnv(s3, changeStreamerPort, SECRET),
    });
    viewSyncers.push(node);
    await startViewSyncer(node);
  }
  balancer = await startTcpBalancer(() =>
    viewSyncers.filter((n) => n.proc && !n.proc.exit).map((n) => n.port),
  );
}, 240_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await balancer?.close();
  for (const n of viewSyncers) await n.close();
  await manager?.close();
  await s3?.dispose();
  await db?.drop();
});

/** A real client through the balancer: the counters and the newest ledger rows. */
function attachClient(userID: string) {
  const z = new Zero({server: `http://127.0.0.1:${balancer.port}`, userID, schema, kvStore: 'mem'});
  clients.push(z);
  const counters = z.query.counter.orderBy('id', 'asc').materialize();
  const newest = z.query.ledger.orderBy('seq', 'desc').limit(20).materialize();
  return {
    /** One synchronous read of both views: they come from the same poke, so they agree. */
    read() {
      const sum = counters.data.reduce((s, r) => s + r.n, 0);
      return {sum, top: newest.data[0]?.seq ?? 0, counters: counters.data, newest: newest.data};
    },
  };
}

type Client = ReturnType<typeof attachClient>;

/** What every process checks once the trial's kills are over and the victims are back. */
async function checkTrial(writer: Writer, views: Client[], why: (s: string) => string) {
  const before = writer.committed;
  const position = await upstreamPosition(db.sql);
  for (const n of [manager, ...viewSyncers]) {
    await waitForStateVersion(n.replicaFile, position, 120_000, n.proc);
    ledgerPrefix(n.replicaFile, before, (s) => why(`${n.replicaFile}: ${s}`));
  }
  for (const [i, v] of views.entries()) {
    await eventually(() => {
      const {sum, top} = v.read();
      expect(top, why(`client ${i} has caught up past the kill`)).toBeGreaterThanOrEqual(before);
      expect(sum, why(`client ${i}: the counters count each ledger row once`)).toBe(top);
    }, 90_000);
  }
}

test(
  `random SIGKILLs of the manager and the view-syncers while upstream commits, ${TRIALS} trials: replicas and client views end equal to upstream, every transaction once`,
  async () => {
    const seed = Number(process.env.ZCACHE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`multi-node kill trials seed=${seed} (rerun with ZCACHE_TEST_SEED=${seed})`);
    const rand = prng(seed);
    const why = (what: string) => `${what} [seed ${seed}]`;
    const views = [attachClient('a'), attachClient('b')];
    const writer = new Writer(db.sql, rand, {pauseMs: 15});
    writer.start();
    const kills = {manager: 0, viewSyncer: 0};
    try {
      for (let trial = 1; trial <= TRIALS; trial++) {
        await sleep(200 + Math.floor(rand() * 1500));
        const r = rand();
        const victims =
          r < 0.35
            ? [manager]
            : r < 0.85
              ? [viewSyncers[Math.floor(rand() * 2)]!]
              : [manager, viewSyncers[Math.floor(rand() * 2)]!];
        for (const v of victims) {
          const exit = await v.proc!.kill();
          expect(exit.signal, why(`trial ${trial}: killed`)).toBe('SIGKILL');
          if (v === manager) kills.manager++;
          else kills.viewSyncer++;
        }
        await sleep(Math.floor(rand() * 500));
        for (const v of victims) {
          if (v === manager) await manager.startAndWaitStreaming({}, 120_000);
          else await startViewSyncer(v);
        }
        await checkTrial(writer, views, (s) => why(`trial ${trial}: ${s}`));
      }
    } finally {
      await writer.stop();
    }
    const position = await upstreamPosition(db.sql);
    await writer.commitOne();
    for (const n of [manager, ...viewSyncers]) {
      await waitForStateVersion(n.replicaFile, position, 120_000, n.proc);
      for (const t of LEDGER_TABLES) {
        await eventually(() =>
          expectReplicaEqualsUpstream(db.sql, n.replicaFile, t, t.columns, t.key),
        );
      }
    }
    const counters = await db.sql`SELECT id, n, payload FROM counter ORDER BY id`;
    const newest =
      await db.sql`SELECT seq, counter_id, note FROM ledger ORDER BY seq DESC LIMIT 20`;
    for (const v of views) {
      await eventually(() => {
        const now = v.read();
        expect(now.counters.map(({id, n, payload}) => ({id, n, payload}))).toEqual([...counters]);
        expect(now.newest.map(({seq, counter_id, note}) => ({seq, counter_id, note}))).toEqual([
          ...newest,
        ]);
      }, 60_000);
    }
    const [dupes] = await db.sql`SELECT count(*)::int AS n FROM (
      SELECT "watermark" FROM "zero_0/cdc"."changeLog" WHERE pos = 0
      GROUP BY "watermark" HAVING count(*) > 1) d`;
    expect(dupes?.n, why('each transaction is in the change log once')).toBe(0);
    console.log(
      `multi-node kill trials summary: ${TRIALS} trials (${kills.manager} manager and ` +
        `${kills.viewSyncer} view-syncer SIGKILLs), ${writer.committed} transactions, every replica ` +
        `and client view equals upstream, each transaction once [seed ${seed}]`,
    );
  },
  240_000 + TRIALS * 45_000,
);
