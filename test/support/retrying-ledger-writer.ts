import Database from 'better-sqlite3';
import type postgres from 'postgres';
import {expect} from 'vitest';
import {versionFromLexi} from '../../src/shared/lexi-version.js';
import type {TableToCompare} from './zcache-process.js';

/**
 * The ledger workload (as in crash-safety.test.ts) for tests whose UPSTREAM goes away: transaction
 * `seq` inserts ledger row `seq` and increments one counter. The writer keeps committing through
 * an outage — a failed commit is retried once upstream answers again, after checking whether it
 * had committed after all (a crash can take the connection after the commit, before its reply).
 *
 * `expectEveryTransactionOnce` then holds the replica and the change log to "each of 1..N exactly
 * once, in order, each with its own watermark".
 */
export const RETRYING_LEDGER_SETUP = `
CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL);
CREATE TABLE ledger (seq int PRIMARY KEY, counter_id int NOT NULL, note text NOT NULL);
INSERT INTO counter VALUES (1, 0), (2, 0), (3, 0), (4, 0);
`;

export const RETRYING_LEDGER_TABLES: TableToCompare[] = [
  {upstream: 'counter', replica: 'counter', columns: {id: 'number', n: 'number'}, key: ['id']},
  {
    upstream: 'ledger',
    replica: 'ledger',
    columns: {seq: 'number', counter_id: 'number', note: 'text'},
    key: ['seq'],
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RetryingLedgerWriter {
  committed = 0;
  /** Attempts that failed because upstream was away (each retried until it committed). */
  failures = 0;
  #stop = false;
  #running: Promise<void> | undefined;
  readonly #sql: postgres.Sql;

  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  /** Commits one transaction after another, `pauseMs` apart, until `stop()`. */
  start(pauseMs = 2): void {
    this.#running = (async () => {
      while (!this.#stop) {
        await this.commitOne();
        await sleep(pauseMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
  }

  /** Commits transaction `committed + 1`, retrying through an outage until it is committed. */
  async commitOne(): Promise<void> {
    const seq = this.committed + 1;
    const counterId = 1 + (seq % 4);
    for (;;) {
      try {
        // One statement is one transaction. Not `sql.begin`: when Postgres dies inside one,
        // postgres.js 3.4.9 queues the ROLLBACK on the dead socket and throws from a setImmediate
        // (porsager/postgres#1208), which would fail this test process, not zcache.
        await this.#sql`
          WITH added AS (INSERT INTO ledger VALUES (${seq}, ${counterId}, ${'tx ' + seq}))
          UPDATE counter SET n = n + 1 WHERE id = ${counterId}`;
        break;
      } catch {
        this.failures++;
        if (await this.#committedAfterAll(seq)) break;
        await sleep(100);
      }
    }
    this.committed = seq;
  }

  /** Whether `seq` is in the ledger; waits until upstream answers. */
  async #committedAfterAll(seq: number): Promise<boolean> {
    for (;;) {
      try {
        const rows = await this.#sql`SELECT 1 FROM ledger WHERE seq = ${seq}`;
        return rows.length === 1;
      } catch {
        await sleep(100);
      }
    }
  }
}

/**
 * The replica's ledger holds 1..n exactly, with strictly increasing `_0_version` (no transaction
 * merged with another or applied out of order), the counters sum to n, and the change log (in
 * `changeDb`) holds each transaction once and whole, no ledger row in two of them.
 */
export async function expectEveryTransactionOnce(
  changeDb: postgres.Sql,
  replicaFile: string,
  n: number,
  cdcSchema = 'zero_0/cdc',
): Promise<void> {
  const replica = new Database(replicaFile, {readonly: true});
  try {
    const ledger = replica
      .prepare('SELECT seq, "_0_version" AS v FROM ledger ORDER BY seq')
      .all() as {seq: number; v: string}[];
    const seqs = new Set(ledger.map((r) => r.seq));
    const missing = Array.from({length: n}, (_, i) => i + 1).filter((s) => !seqs.has(s));
    const extra = ledger.map((r) => r.seq).filter((s) => s < 1 || s > n);
    expect({missing, extra}, `the replica's ledger holds seq 1..${n} exactly`).toEqual({
      missing: [],
      extra: [],
    });
    const outOfOrder = ledger
      .filter((r, i) => i > 0 && !(versionFromLexi(r.v) > versionFromLexi(ledger[i - 1]!.v)))
      .map((r) => r.seq);
    expect(outOfOrder, 'each transaction has its own, increasing watermark').toEqual([]);
    const {total} = replica.prepare('SELECT sum(n) AS total FROM counter').get() as {
      total: number;
    };
    expect(total, 'the counters count every transaction once').toBe(n);
  } finally {
    replica.close();
  }
  const broken = await changeDb.unsafe(`
    SELECT "watermark" FROM "${cdcSchema}"."changeLog" GROUP BY "watermark"
    HAVING count(*) FILTER (WHERE change->>'tag' = 'begin') <> 1
        OR count(*) FILTER (WHERE change->>'tag' = 'commit') <> 1
        OR min(pos) <> 0 OR count(*) <> max(pos) + 1`);
  expect(broken, 'the change log holds each transaction once, whole').toEqual([]);
  const duplicated = await changeDb.unsafe(`
    SELECT change->'new'->>'seq' AS seq, array_agg("watermark") AS watermarks
      FROM "${cdcSchema}"."changeLog"
     WHERE change->>'tag' = 'insert' AND change->'relation'->>'name' = 'ledger'
     GROUP BY 1 HAVING count(*) > 1`);
  expect(duplicated, 'no ledger insert is stored twice').toEqual([]);
}
