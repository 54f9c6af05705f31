import postgres from 'postgres';
import {sleep, wallClockMs} from './clock.js';

/**
 * The upstream writer of the replication benchmark, run as its own process (forked by
 * replication-throughput.ts) so that its client work does not stall the replication node's event
 * loop. It receives one task as an IPC message, runs it, sends back the result and exits.
 *
 * - `throughput`: `connections` loops commit as fast as they can for `durationMs` — 80% single-row
 *   UPDATEs of `items`, 20% INSERTs of 2–10 `events` rows — while a further connection commits
 *   `largeCount` evenly spaced single-statement transactions of `largeRows` rows (INSERT into
 *   `events` and UPDATE of `items`, alternately).
 * - `latency`: transaction i, issued at `i / rate` s over a pool of `connections`, sets
 *   `ticks.seq = i` on row `id = i`; the time each COMMIT returned is recorded.
 */
export type WriterTask =
  | {
      kind: 'throughput';
      url: string;
      durationMs: number;
      connections: number;
      items: number;
      largeRows: number;
      largeCount: number;
    }
  | {kind: 'latency'; url: string; durationMs: number; rate: number; connections: number};

export interface TxCounts {
  txs: number;
  rows: number;
}

export interface ThroughputResult {
  kind: 'throughput';
  startedAt: number;
  endedAt: number;
  update: TxCounts;
  insert: TxCounts;
  large: TxCounts;
}

export interface LatencyResult {
  kind: 'latency';
  startedAt: number;
  endedAt: number;
  /** Per transaction i: when it was handed to the driver and when its COMMIT returned. */
  sentAt: number[];
  committedAt: number[];
}

export type WriterResult = ThroughputResult | LatencyResult | {kind: 'error'; message: string};

const randInt = (n: number) => Math.floor(Math.random() * n);

async function throughput(
  sql: postgres.Sql,
  t: Extract<WriterTask, {kind: 'throughput'}>,
): Promise<ThroughputResult> {
  const update: TxCounts = {txs: 0, rows: 0};
  const insert: TxCounts = {txs: 0, rows: 0};
  const large: TxCounts = {txs: 0, rows: 0};
  const startedAt = wallClockMs();
  const deadline = startedAt + t.durationMs;
  const small = async () => {
    while (wallClockMs() < deadline) {
      if (Math.random() < 0.8) {
        const r = await sql`UPDATE items SET n = n + 1, val = ${String(Math.random())},
                            updated_at = now() WHERE id = ${randInt(t.items)}`;
        update.txs++;
        update.rows += r.count;
      } else {
        const rows = Array.from({length: 2 + randInt(9)}, () => ({
          item_id: randInt(t.items),
          payload: `event ${Math.random()} ${'x'.repeat(randInt(60))}`,
        }));
        const r = await sql`INSERT INTO events ${sql(rows, 'item_id', 'payload')}`;
        insert.txs++;
        insert.rows += r.count;
      }
    }
  };
  const big = async () => {
    for (let k = 0; k < t.largeCount; k++) {
      await sleep(startedAt + ((k + 0.5) * t.durationMs) / t.largeCount - wallClockMs());
      const r =
        k % 2 === 0
          ? await sql`INSERT INTO events (item_id, payload)
                      SELECT g % ${t.items}, 'bulk ' || md5(g::text)
                      FROM generate_series(1, ${t.largeRows}) g`
          : await sql`UPDATE items SET n = n + 1, updated_at = now() WHERE id < ${t.largeRows}`;
      large.txs++;
      large.rows += r.count;
    }
  };
  await Promise.all([...Array.from({length: t.connections}, small), big()]);
  return {kind: 'throughput', startedAt, endedAt: wallClockMs(), update, insert, large};
}

async function latency(
  sql: postgres.Sql,
  t: Extract<WriterTask, {kind: 'latency'}>,
): Promise<LatencyResult> {
  const total = Math.round((t.rate * t.durationMs) / 1000);
  const interval = 1000 / t.rate;
  const sentAt: number[] = new Array(total).fill(NaN);
  const committedAt: number[] = new Array(total).fill(NaN);
  const pending: Promise<unknown>[] = [];
  const startedAt = wallClockMs();
  let next = 0;
  while (next < total) {
    const due = Math.min(total, Math.floor((wallClockMs() - startedAt) / interval) + 1);
    for (; next < due; next++) {
      const i = next;
      sentAt[i] = wallClockMs();
      pending.push(
        sql`UPDATE ticks SET seq = ${i}, committed_at = now() WHERE id = ${i}`.then(() => {
          committedAt[i] = wallClockMs();
        }),
      );
    }
    await sleep(Math.min(1, startedAt + next * interval - wallClockMs()));
  }
  await Promise.all(pending);
  return {kind: 'latency', startedAt, endedAt: wallClockMs(), sentAt, committedAt};
}

async function runTask(task: WriterTask): Promise<WriterResult> {
  const sql = postgres(task.url, {max: task.connections + 1, onnotice: () => {}});
  try {
    // Open every connection before the clock starts.
    await Promise.all(Array.from({length: task.connections + 1}, () => sql`SELECT 1`));
    return task.kind === 'throughput' ? await throughput(sql, task) : await latency(sql, task);
  } finally {
    await sql.end({timeout: 5});
  }
}

if (process.send) {
  process.once('message', (task: WriterTask) => {
    runTask(task)
      .catch((e): WriterResult => ({kind: 'error', message: String(e?.stack ?? e)}))
      .then((result) => process.send!(result, () => process.exit(0)));
  });
}
