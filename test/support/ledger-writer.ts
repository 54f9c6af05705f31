import Database from 'better-sqlite3';
import type postgres from 'postgres';
import {expect} from 'vitest';
import type {TableToCompare} from './zcache-process.js';

/**
 * The ledger workload of the kill tests (crash-safety, multi-node kill trials): tables whose
 * contents make a lost, duplicated, merged or reordered transaction visible.
 *
 * - every transaction inserts one `ledger` row with the next sequence number and increments one
 *   `counter`: at any consistent point the ledger holds 1..m exactly and the counters sum to m;
 * - `item` gets a seeded mix of inserts, updates (some leaving a TOASTed column unchanged),
 *   primary-key updates, deletes and multi-row statements.
 */
export const LEDGER_SETUP = `
CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL, payload text);
CREATE TABLE ledger (seq int PRIMARY KEY, counter_id int NOT NULL, note text);
CREATE TABLE item (id int PRIMARY KEY, v int NOT NULL, payload text);
INSERT INTO counter VALUES (1, 0, 'c1'), (2, 0, 'c2'), (3, 0, 'c3'), (4, 0, 'c4');
INSERT INTO item SELECT g, 0, 'seed ' || g FROM generate_series(1, 50) g;
`;

export const LEDGER_TABLES: TableToCompare[] = [
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

/** mulberry32: a small seeded PRNG, so that a failing run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Commits transactions one after another until stopped. Each transaction `seq` inserts ledger row
 * `seq` and increments a counter, plus a random mix of item changes. It keeps its own list of item
 * ids, updated only after a commit.
 */
export class Writer {
  committed = 0;
  #stop = false;
  #running: Promise<void> | undefined;
  #items = new Set<number>();
  #nextItem = 1000;
  readonly #sql: postgres.Sql;
  readonly #rand: () => number;

  readonly #pauseMs: number;

  /** `pauseMs`: the pause between two transactions (a steady stream rather than a flood). */
  constructor(sql: postgres.Sql, rand: () => number, opts: {pauseMs?: number} = {}) {
    this.#sql = sql;
    this.#rand = rand;
    this.#pauseMs = opts.pauseMs ?? 1;
    for (let i = 1; i <= 50; i++) this.#items.add(i);
  }

  start(): void {
    this.#running = (async () => {
      while (!this.#stop) {
        await this.commitOne();
        // A steady stream rather than a flood: zcache keeps up, so kills land mid-stream.
        await sleep(this.#pauseMs);
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
export function ledgerPrefix(
  replicaFile: string,
  atLeast: number,
  why: (s: string) => string,
): number {
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
