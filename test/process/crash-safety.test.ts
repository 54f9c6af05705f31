import Database from 'better-sqlite3';
import type postgres from 'postgres';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {versionFromLexi} from '../../src/shared/lexi-version.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {expectReplicaEqualsUpstream} from '../support/replica-compare.js';
import {
  createZcacheNode,
  replicaConfig,
  STREAMING_LINE,
  upstreamPosition,
  waitForStateVersion,
  type TableToCompare,
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

const SETUP = `
CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE ledger (seq int PRIMARY KEY, counter_id int NOT NULL, note text);
CREATE TABLE item (id int PRIMARY KEY, v int NOT NULL, payload text);
INSERT INTO counter VALUES (1, 0, 'c1'), (2, 0, 'c2'), (3, 0, 'c3'), (4, 0, 'c4');
INSERT INTO item SELECT g, 0, 'seed ' || g FROM generate_series(1, 50) g;
`;

const TABLES: TableToCompare[] = [
  {
    upstream: 'counter',
    replica: 'counter',
    columns: {id: 'number', n: 'number', payload: 'text'},
    key: ['id'],
  },
  {
    upstream: 'ledger',
    replica: 'ledger',
    columns: {seq: 'number', counter_id: 'number', note: 'text'},
    key: ['seq'],
  },
  {
    upstream: 'item',
    replica: 'item',
    columns: {id: 'number', v: 'number', payload: 'text'},
    key: ['id'],
  },
];

const KILL_CYCLES = Number(process.env.ZCACHE_KILL_TRIALS ?? 4);

/** mulberry32: a small seeded PRNG, so that a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Commits transactions one after another until stopped. Each transaction `seq` inserts ledger row
 * `seq` and increments a counter, plus a random mix of item changes. It keeps its own list of item
 * ids, updated only after a commit.
 */
class Writer {
  committed = 0;
  #stop = false;
  #running: Promise<void> | undefined;
  #items = new Set<number>();
  #nextItem = 1000;
  readonly #sql: postgres.Sql;
  readonly #rand: () => number;

  constructor(sql: postgres.Sql, rand: () => number) {
    this.#sql = sql;
    this.#rand = rand;
    for (let i = 1; i <= 50; i++) this.#items.add(i);
  }

  start(): void {
    this.#running = (async () => {
      while (!this.#stop) {
        await this.commitOne();
        // A steady stream rather than a flood: zcache keeps up, so kills land mid-stream.
        await sleep(1);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
  }

  #int(lo: number, hi: number): number {
    return lo + Math.floor(this.#rand() * (hi - lo + 1));
  }

  #text(len: number): string {
    // Random enough not to compress, so long values are stored out of line (TOAST).
    let s = '';
    while (s.length < len) s += Math.floor(this.#rand() * 2 ** 32).toString(36);
    return s.slice(0, len);
  }

  #pickItem(items: Set<number>): number | undefined {
    if (items.size === 0) return undefined;
    const k = this.#int(0, items.size - 1);
    let i = 0;
    for (const id of items) if (i++ === k) return id;
    return undefined;
  }

  async commitOne(): Promise<void> {
    const seq = this.committed + 1;
    const items = new Set(this.#items);
    let nextItem = this.#nextItem;
    const counterId = this.#int(1, 4);
    const extraOps = this.#rand() < 0.15 ? this.#int(3, 8) : this.#int(0, 2);
    const ops: ((tx: postgres.TransactionSql) => Promise<unknown>)[] = [
      (tx) =>
        tx`INSERT INTO ledger (seq, counter_id, note) VALUES (${seq}, ${counterId}, ${'tx ' + seq})`,
      (tx) => tx`UPDATE counter SET n = n + 1, payload = ${'after ' + seq} WHERE id = ${counterId}`,
    ];
    for (let i = 0; i < extraOps; i++) {
      const r = this.#rand();
      const id = this.#pickItem(items);
      if (r < 0.3 || id === undefined) {
        const newId = nextItem++;
        items.add(newId);
        const payload = this.#rand() < 0.2 ? this.#text(4000) : `p${seq}`;
        ops.push((tx) => tx`INSERT INTO item VALUES (${newId}, ${seq}, ${payload})`);
      } else if (r < 0.5) {
        // Only v changes: a TOASTed payload arrives as "unchanged" and must be kept.
        ops.push((tx) => tx`UPDATE item SET v = v + 1 WHERE id = ${id}`);
      } else if (r < 0.62) {
        ops.push((tx) => tx`UPDATE item SET payload = ${'u' + seq} WHERE id = ${id}`);
      } else if (r < 0.75) {
        const newId = nextItem++;
        items.delete(id);
        items.add(newId);
        ops.push((tx) => tx`UPDATE item SET id = ${newId}, v = v + 1 WHERE id = ${id}`);
      } else if (r < 0.88) {
        items.delete(id);
        ops.push((tx) => tx`DELETE FROM item WHERE id = ${id}`);
      } else if (r < 0.94) {
        // Multi-row statements over a few existing rows.
        const ids = [
          ...new Set(Array.from({length: this.#int(2, 12)}, () => this.#pickItem(items)!)),
        ];
        if (this.#rand() < 0.5) {
          ops.push((tx) => tx`UPDATE item SET v = v + 1 WHERE id = ANY(${ids}::int[])`);
        } else {
          for (const i of ids) items.delete(i);
          ops.push((tx) => tx`DELETE FROM item WHERE id = ANY(${ids}::int[])`);
        }
      } else {
        const from = nextItem;
        const count = this.#int(5, 20);
        nextItem += count;
        for (let k = from; k < from + count; k++) items.add(k);
        ops.push(
          (tx) =>
            tx`INSERT INTO item SELECT g, ${seq}, 'bulk ' || g FROM generate_series(${from}::int, ${from + count - 1}::int) g`,
        );
      }
    }
    // Shuffle so the ledger insert is not always first in the transaction.
    for (let i = ops.length - 1; i > 0; i--) {
      const j = this.#int(0, i);
      [ops[i], ops[j]] = [ops[j]!, ops[i]!];
    }
    await this.#sql.begin(async (tx) => {
      for (const op of ops) await op(tx);
    });
    this.committed = seq;
    this.#items = items;
    this.#nextItem = nextItem;
  }
}

/**
 * At one consistent point of the replica (one read transaction), while upstream goes on: the
 * ledger is exactly 1..m for some m ≥ `atLeast`, and the counters count m transactions. A lost,
 * duplicated or half-applied transaction breaks one of the two.
 */
function ledgerPrefix(replicaFile: string, atLeast: number, why: (s: string) => string): number {
  const replica = new Database(replicaFile, {readonly: true});
  try {
    return replica.transaction(() => {
      const {m, count} = replica
        .prepare('SELECT coalesce(max(seq), 0) AS m, count(*) AS count FROM ledger WHERE seq >= 1')
        .get() as {m: number; count: number};
      const {total} = replica.prepare('SELECT sum(n) AS total FROM counter').get() as {
        total: number;
      };
      expect({count, total}, why(`the ledger is a gap-free 1..${m}, counted once`)).toEqual({
        count: m,
        total: m,
      });
      expect(m, why('the replica holds what was committed before the kill')).toBeGreaterThanOrEqual(
        atLeast,
      );
      return m;
    })();
  } finally {
    replica.close();
  }
}

let db: TestDatabase;
let node: ZcacheNode;
beforeAll(async () => {
  db = await createTestDatabase('crash');
  await db.sql.unsafe(SETUP);
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
    for (const t of TABLES) {
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
