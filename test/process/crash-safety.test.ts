import Database from 'better-sqlite3';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {versionFromLexi} from '../../src/shared/lexi-version.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {
  LEDGER_SETUP,
  LEDGER_TABLES,
  ledgerPrefix,
  prng,
  sleep,
  Writer,
} from '../support/ledger-writer.js';
import {expectReplicaEqualsUpstream} from '../support/replica-compare.js';
import {
  createZcacheNode,
  replicaConfig,
  STREAMING_LINE,
  upstreamPosition,
  waitForStateVersion,
  type ZcacheNode,
  type ZcacheProcess,
} from '../support/zcache-process.js';

/**
 * zcache is SIGKILLed again and again while upstream keeps committing, and restarted each time.
 * Afterwards the replica must equal upstream and every transaction must have been applied exactly
 * once, in order. The writes make loss and duplication visible:
 *
 * - every transaction inserts one `ledger` row with the next sequence number and increments one
 *   `counter`: the ledger must hold 1..N exactly, the counters must sum to N, and the ledger rows'
 *   `_0_version` (the commit watermark of the transaction that inserted them) must strictly increase
 *   with seq, so no two transactions were merged and none was applied out of order;
 * - `item` gets a seeded mix of inserts, updates (some leaving a TOASTed column unchanged),
 *   primary-key updates, deletes and multi-row statements;
 * - the change log holds each transaction once: one begin at pos 0, one commit at the end, unique
 *   watermarks, and no ledger seq in two transactions.
 *
 * The seed is printed; rerun with ZCACHE_TEST_SEED=<seed> to replay the same writes and kill times.
 * ZCACHE_KILL_TRIALS=<n> sets the number of kill trials (4 by default), for long runs; after each,
 * the restarted replica is checked at a consistent point mid-stream (the ledger a gap-free prefix,
 * the counters summing to it), and after the last every table is compared with upstream.
 */

const KILL_CYCLES = Number(process.env.ZCACHE_KILL_TRIALS ?? 4);

let db: TestDatabase;
let node: ZcacheNode;
beforeAll(async () => {
  db = await createTestDatabase('crash');
  await db.sql.unsafe(LEDGER_SETUP);
  node = await createZcacheNode({upstreamUrl: db.url});
});
afterAll(async () => {
  await node?.close();
  await db?.drop();
});

test(
  `SIGKILL at random points while upstream commits, ${KILL_CYCLES} times: after restarts the replica equals upstream, every transaction applied exactly once`,
  async () => {
    const seed = Number(process.env.ZCACHE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`crash-safety seed=${seed} (rerun with ZCACHE_TEST_SEED=${seed})`);
    const rand = prng(seed);
    const why = (what: string) => `${what} [seed ${seed}]`;

    let proc: ZcacheProcess = await node.startAndWaitStreaming();
    const slot = replicaConfig(node.replicaFile)!.slot;
    const writer = new Writer(db.sql, rand);
    writer.start();

    try {
      for (let cycle = 1; cycle <= KILL_CYCLES; cycle++) {
        // Let zcache stream (and catch up) for a random while, then kill it without warning.
        await sleep(50 + Math.floor(rand() * 1200));
        const killedAt = writer.committed;
        const exit = await proc.kill();
        expect(exit.signal, why('killed by SIGKILL')).toBe('SIGKILL');
        // Writes go on while zcache is down.
        await sleep(Math.floor(rand() * 300));
        proc = node.start();
        await proc.waitForLine(/resuming replica/, {timeoutMs: 30_000});
        await proc.waitForLine(STREAMING_LINE, {timeoutMs: 30_000});
        expect(
          proc.lines.filter((l) => /initial sync/.test(l)),
          why(`cycle ${cycle}: a restart after SIGKILL resumes, never resyncs`),
        ).toEqual([]);
        expect(writer.committed, why('the writer keeps committing')).toBeGreaterThan(killedAt);
        // Caught up past everything committed before the kill, and consistent there.
        const before = writer.committed;
        const position = await upstreamPosition(db.sql);
        await waitForStateVersion(node.replicaFile, position, 60_000, proc);
        ledgerPrefix(node.replicaFile, before, (s) => why(`cycle ${cycle}: ${s}`));
      }
      await sleep(100 + Math.floor(rand() * 400));
      console.log(
        `crash-safety: ${KILL_CYCLES} kill trials passed the per-trial check [seed ${seed}]`,
      );
    } finally {
      await writer.stop();
    }

    // Everything committed so far, plus one last transaction after this position.
    const position = await upstreamPosition(db.sql);
    await writer.commitOne();
    const n = writer.committed;
    await waitForStateVersion(node.replicaFile, position, 60_000, proc);
    const replica = new Database(node.replicaFile, {readonly: true});
    try {
      const ledger = replica
        .prepare('SELECT seq, "_0_version" AS v FROM ledger ORDER BY seq')
        .all() as {seq: number; v: string}[];
      const seqs = new Set(ledger.map((r) => r.seq));
      const missing = Array.from({length: n}, (_, i) => i + 1).filter((s) => !seqs.has(s));
      const extra = ledger.map((r) => r.seq).filter((s) => s < 1 || s > n);
      expect({missing, extra}, why(`the ledger holds seq 1..${n} exactly`)).toEqual({
        missing: [],
        extra: [],
      });
      const outOfOrder = ledger
        .filter((r, i) => i > 0 && !(versionFromLexi(r.v) > versionFromLexi(ledger[i - 1]!.v)))
        .map((r) => r.seq);
      expect(outOfOrder, why('each transaction has its own, increasing watermark')).toEqual([]);
      const {total} = replica.prepare('SELECT sum(n) AS total FROM counter').get() as {
        total: number;
      };
      expect(total, why('the counters count every transaction once')).toBe(n);
      expect(replicaConfig(node.replicaFile)?.slot, why('the slot never changed')).toBe(slot);
    } finally {
      replica.close();
    }
    // Caught up, so every table must be equal now, not eventually.
    for (const t of LEDGER_TABLES) {
      await expectReplicaEqualsUpstream(db.sql, node.replicaFile, t, t.columns, t.key);
    }

    const slots = await db.sql<{slot_name: string}[]>`
    SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`;
    expect(slots.map((s) => s.slot_name)).toEqual([slot]);

    // The change log: each stored transaction exactly once, whole.
    const txs = await db.sql<
      {
        watermark: string;
        begins: number;
        commits: number;
        beginPos: string;
        commitPos: string;
        maxPos: string;
        entries: number;
      }[]
    >`
    SELECT "watermark",
           count(*) FILTER (WHERE change->>'tag' = 'begin')::int AS begins,
           count(*) FILTER (WHERE change->>'tag' = 'commit')::int AS commits,
           min(pos) FILTER (WHERE change->>'tag' = 'begin') AS "beginPos",
           max(pos) FILTER (WHERE change->>'tag' = 'commit') AS "commitPos",
           max(pos) AS "maxPos", count(*)::int AS entries
      FROM "zero_0/cdc"."changeLog" GROUP BY "watermark"`;
    expect(txs.length, 'the change log holds the recent transactions').toBeGreaterThan(0);
    const broken = txs.filter(
      (t) =>
        t.begins !== 1 ||
        t.commits !== 1 ||
        Number(t.beginPos) !== 0 ||
        t.commitPos !== t.maxPos ||
        t.entries !== Number(t.maxPos) + 1,
    );
    expect(broken, why('one begin at pos 0 and one commit at the end, per watermark')).toEqual([]);
    const duplicated = await db.sql`
    SELECT change->'new'->>'seq' AS seq, array_agg("watermark") AS watermarks
      FROM "zero_0/cdc"."changeLog"
     WHERE change->>'tag' = 'insert' AND change->'relation'->>'name' = 'ledger'
     GROUP BY 1 HAVING count(*) > 1`;
    expect(duplicated, why('no ledger insert is stored twice')).toEqual([]);
    const [state] = await db.sql<{lastWatermark: string}[]>`
    SELECT "lastWatermark" FROM "zero_0/cdc"."replicationState"`;
    const maxStored = txs.map((t) => t.watermark).reduce((a, b) => (a > b ? a : b));
    expect(state!.lastWatermark, 'lastWatermark is the last stored transaction').toBe(maxStored);
    console.log(
      `crash-safety summary: ${KILL_CYCLES} SIGKILL trials, ${n} transactions, replica equals upstream, each applied once [seed ${seed}]`,
    );
  },
  150_000 + KILL_CYCLES * 20_000,
);
