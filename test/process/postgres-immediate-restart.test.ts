import {writeFileSync} from 'node:fs';
import {Zero} from '@rocicorp/zero';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {allowReadingLedger, ledgerSchema} from '../support/ledger-schema.js';
import {startOwnPostgres, type OwnPostgres} from '../support/own-postgres.js';
import {
  expectEveryTransactionOnce,
  RETRYING_LEDGER_SETUP,
  RETRYING_LEDGER_TABLES,
  RetryingLedgerWriter,
} from '../support/retrying-ledger-writer.js';
import type {ScratchDatabase} from '../support/scratch-database.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {
  createZcacheNode,
  upstreamPosition,
  waitForReplicaToEqualUpstream,
  waitForStateVersion,
  type ZcacheNode,
  type ZcacheProcess,
} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * Postgres restarted in `immediate` mode (every process killed at once, crash recovery on start)
 * under a running single node whose upstream, change log and CVRs all live on it, while upstream
 * commits a stream of transactions. zcache stays up, retries until Postgres accepts connections
 * again, and ends with the replica equal to upstream and every transaction applied exactly once —
 * and, when the crash lands among CVR flushes (clients changing queries while pokes flow), with
 * every client's views equal to upstream.
 *
 * Each test has its own database and node on this file's own cluster, which no other file uses.
 */
const DOWN_MS = Number(process.env.ZCACHE_OUTAGE_MS ?? 3_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pg: OwnPostgres;
beforeAll(async () => {
  pg = await startOwnPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.close();
});

interface Fixture {
  upstream: ScratchDatabase;
  node: ZcacheNode;
  proc: ZcacheProcess;
  writer: RetryingLedgerWriter;
  close(): Promise<void>;
}

async function startFixture(prefix: string): Promise<Fixture> {
  const upstream = await pg.createDatabase(prefix);
  await upstream.sql.unsafe(RETRYING_LEDGER_SETUP);
  const node = await createZcacheNode({upstreamUrl: upstream.url});
  const proc = await node.startAndWaitStreaming();
  return {
    upstream,
    node,
    proc,
    writer: new RetryingLedgerWriter(upstream.sql),
    async close() {
      await node.close();
      await upstream.drop();
    },
  };
}

/** Crashes Postgres, keeps it down for DOWN_MS, starts it; returns the log index at the crash. */
async function crashAndRestart(proc: ZcacheProcess): Promise<number> {
  const crashedAt = proc.lines.length;
  await pg.stop('immediate');
  try {
    await proc.waitForLine(/replication: upstream unreachable .*: retrying in/, {
      from: crashedAt,
      timeoutMs: 20_000,
    });
    await sleep(DOWN_MS);
  } finally {
    // Also when zcache did not say so: a writer waiting for Postgres would otherwise hang the
    // test until its timeout, and the next test would find Postgres down.
    await pg.start();
  }
  return crashedAt;
}

/** Everything committed so far (plus one more) is in the replica, each transaction once. */
async function expectCaughtUpExactlyOnce(f: Fixture, crashedAt: number): Promise<void> {
  const position = await upstreamPosition(f.upstream.sql);
  await f.writer.commitOne();
  await waitForStateVersion(f.node.replicaFile, position, 60_000, f.proc);
  await waitForReplicaToEqualUpstream(f.upstream.sql, f.node.replicaFile, RETRYING_LEDGER_TABLES);
  await expectEveryTransactionOnce(f.upstream.sql, f.node.replicaFile, f.writer.committed);
  const after = f.proc.lines.slice(crashedAt);
  expect(
    after.some((l) => /replication: upstream is back/.test(l)),
    f.proc.describe(),
  ).toBe(true);
  expect(
    after.filter((l) => /initial sync/.test(l)),
    'resumed from the slot, not resynced',
  ).toEqual([]);
  expect(f.proc.exit, f.proc.describe()).toBeUndefined();
}

test('Postgres restarted in immediate mode mid-stream: zcache retries, stays up, and applies each transaction exactly once', async () => {
  const f = await startFixture('immediate_stream');
  try {
    f.writer.start(1);
    await eventually(() => expect(f.writer.committed).toBeGreaterThan(100), 30_000);
    const crashedAt = await crashAndRestart(f.proc);
    const resumedAt = f.writer.committed;
    await eventually(() => expect(f.writer.committed).toBeGreaterThan(resumedAt + 100), 60_000);
    await f.writer.stop();
    expect(f.writer.failures, 'the writer saw the crash').toBeGreaterThan(0);
    await expectCaughtUpExactlyOnce(f, crashedAt);
  } finally {
    await f.writer.stop();
    await f.close();
  }
}, 180_000);

/**
 * Three real clients keep changing queries (each change flushes their CVR) while pokes flow, and
 * Postgres crashes among those flushes. Each group's clients are told ServerOverloaded, come back
 * after a back-off (refused the same way while Postgres is down) and end equal to upstream. Two
 * causes of a stale client were fixed for it: a reserved connection Postgres closed was released
 * back to postgres.js's pool, whose next query on it then hung (pg-transaction.ts), and an error
 * sent right after `connected` left the 0.25.9 client stopped (client-connection.ts).
 */
test('Postgres restarted in immediate mode among CVR flushes: clients reconnect by themselves and end equal to upstream', async () => {
  const f = await startFixture('immediate_cvr');
  const clients: Zero<typeof ledgerSchema>[] = [];
  let churning = true;
  try {
    await allowReadingLedger(f.upstream.sql);
    for (let i = 0; i < 3; i++) {
      clients.push(
        new Zero({
          server: `http://127.0.0.1:${f.node.port}`,
          userID: `user-${i}`,
          schema: ledgerSchema,
          kvStore: 'mem',
        }),
      );
    }
    const views = clients.map((z) => ({
      all: z.query.ledger.orderBy('seq', 'asc').materialize(),
      counters: z.query.counter.orderBy('id', 'asc').materialize(),
    }));
    // Each client keeps changing a query (desired-query changes flush its CVR) while pokes of
    // the writer's transactions flush it too.
    const churn = clients.map(async (z, i) => {
      for (let k = 0; churning; k++) {
        const v = z.query.ledger
          .where('counter_id', 1 + ((i + k) % 4))
          .orderBy('seq', 'desc')
          .limit(3)
          .materialize();
        await sleep(50);
        v.destroy();
      }
    });
    // Every client is synced first: the crash is to land among flushes of serving groups.
    await f.writer.commitOne();
    for (const v of views) await eventually(() => expect(v.all.data.length).toBe(1), 30_000);
    f.writer.start(5);
    await eventually(() => expect(f.writer.committed).toBeGreaterThan(50), 30_000);
    const crashedAt = await crashAndRestart(f.proc);
    const resumedAt = f.writer.committed;
    await eventually(() => expect(f.writer.committed).toBeGreaterThan(resumedAt + 50), 60_000);
    churning = false;
    await Promise.all(churn);
    await f.writer.stop();
    await expectCaughtUpExactlyOnce(f, crashedAt);

    const seqs = (await f.upstream.sql`SELECT seq FROM ledger ORDER BY seq`).map((r) => r.seq);
    const counters = await f.upstream.sql`SELECT id, n FROM counter ORDER BY id`;
    for (const [i, v] of views.entries()) {
      await eventually(
        () => {
          expect(
            v.all.data.map((r) => r.seq),
            `client ${i}: ledger`,
          ).toEqual(seqs);
          expect(
            v.counters.data.map((r) => ({id: r.id, n: r.n})),
            `client ${i}: counters`,
          ).toEqual(counters.map((r) => ({id: r.id, n: r.n})));
        },
        60_000,
        200,
      );
    }
    // A fresh query per client, hydrated after everything, agrees too.
    for (const z of clients) {
      const latest = z.query.ledger.where('counter_id', 2).orderBy('seq', 'asc').materialize();
      await eventually(() =>
        expect(latest.data.map((r) => r.seq)).toEqual(seqs.filter((s) => 1 + (s % 4) === 2)),
      );
    }
  } finally {
    if (process.env.ZCACHE_DUMP) writeFileSync(process.env.ZCACHE_DUMP, f.proc.lines.join('\n'));
    churning = false;
    await f.writer.stop();
    await Promise.all(clients.map((z) => z.close()));
    await f.close();
  }
}, 240_000);
