import {fork} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {openReplica, type ReplicaDb} from '../src/replica/replica-file.js';
import {lsnToBigInt, watermarkToLsn} from '../src/shared/lsn.js';
import {scaled, scaledDuration, type BenchContext} from './bench-context.js';
import {startBenchNode, type BenchNode} from './bench-node.js';
import {createBenchDatabase, type BenchDatabase} from './bench-postgres.js';
import {captureLog} from './captured-log.js';
import {sleep, wallClockMs} from './clock.js';
import {fixed, int, megabytes, ms, note, seconds} from './figures.js';
import {summarize} from './percentiles.js';
import type {
  LatencyResult,
  ThroughputResult,
  WriterResult,
  WriterTask,
} from './replication-writer.js';

/**
 * Steady-state replication, upstream commit → replica commit, with the node running:
 *
 * 1. Throughput: a writer process commits a mix of transactions as fast as it can for ~20 s (see
 *    replication-writer.ts). When it stops, one more transaction bumps `marker`; the replica is
 *    caught up when it has that row. Applied row changes/s = the writer's row changes / (time from
 *    the writer's start until the replica caught up).
 * 2. Latency: 200 single-row UPDATE transactions per second for ~15 s; transaction i writes seq = i
 *    into its own row. On every "version ready" the bench reads the new seqs from the replica
 *    (read-only connection, indexed) and stamps them; lag = that stamp − the time COMMIT returned
 *    to the writer.
 */
const BENCH = 'replication';
const WRITER_CONNECTIONS = 4;
const LATENCY_RATE = 200;
/** The replica may fall far behind a full-speed writer; give it this long to catch up. */
const CATCH_UP_TIMEOUT_MS = 15 * 60_000;

export async function benchReplication(ctx: BenchContext): Promise<void> {
  const items = scaled(ctx, 20_000, 1_000);
  const largeRows = scaled(ctx, 10_000, 200);
  const throughputMs = scaledDuration(ctx, 20_000);
  const latencyMs = scaledDuration(ctx, 15_000);
  const ticks = Math.ceil((LATENCY_RATE * latencyMs) / 1000);

  const db = await createBenchDatabase(ctx.adminUrl, 'bench_replication');
  const log = captureLog(BENCH);
  try {
    // The tables start empty and are filled through replication, so that this benchmark does not
    // depend on initial sync.
    await db.sql.unsafe(`
      CREATE TABLE items (id integer PRIMARY KEY, n integer NOT NULL DEFAULT 0, val text,
                          updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE events (id bigserial PRIMARY KEY, item_id integer NOT NULL, payload text NOT NULL,
                           created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE ticks (id integer PRIMARY KEY, seq integer NOT NULL DEFAULT -1, committed_at timestamptz);
      CREATE INDEX ticks_seq ON ticks (seq);
      CREATE TABLE marker (id integer PRIMARY KEY, seq integer NOT NULL);
    `);
    const bn = await startBenchNode(db.url, log.logger);
    const reader = openReplica(bn.replicaFile, {readonly: true});
    try {
      const marker = markerOf(db, bn, reader);
      await marker.set(0, async () => {
        await db.sql.unsafe(`
          INSERT INTO items (id, val) SELECT g, md5(g::text) FROM generate_series(0, ${items - 1}) g;
          INSERT INTO ticks (id) SELECT generate_series(0, ${ticks - 1});
          INSERT INTO marker VALUES (1, 0);
        `);
      });
      await db.sql`VACUUM ANALYZE`;
      await throughput(ctx, db, bn, reader, marker, {items, largeRows, throughputMs});
      await latency(ctx, db, bn, reader, {latencyMs, ticks});
    } finally {
      reader.close();
      await bn.stop();
      bn.removeFiles();
    }
  } finally {
    await db.drop();
  }
}

/**
 * The `marker` row: `set(v)` commits `seq = v` upstream (or runs `commit`, which must) and resolves
 * with the time the replica first had it — every transaction committed before is applied by then.
 */
interface Marker {
  set(value: number, commit?: () => Promise<unknown>): Promise<number>;
}

function markerOf(db: BenchDatabase, bn: BenchNode, reader: ReplicaDb): Marker {
  const read = reader.prepare('SELECT seq FROM marker WHERE id = 1').pluck();
  return {
    async set(value, commit) {
      const seen = untilReplica(bn, () => read.get() === value, CATCH_UP_TIMEOUT_MS);
      seen.catch(() => {}); // awaited below unless the commit fails
      await (commit ? commit() : db.sql`UPDATE marker SET seq = ${value} WHERE id = 1`);
      return seen;
    },
  };
}

async function throughput(
  ctx: BenchContext,
  db: BenchDatabase,
  bn: BenchNode,
  reader: ReplicaDb,
  marker: Marker,
  p: {items: number; largeRows: number; throughputMs: number},
): Promise<void> {
  const largeCount = 4;
  note(
    BENCH,
    `throughput: ${WRITER_CONNECTIONS} connections at full speed for ${seconds(p.throughputMs)}, ` +
      `${largeCount} transactions of ${int(p.largeRows)} rows`,
  );
  const w = (await runWriter({
    kind: 'throughput',
    url: db.url,
    durationMs: p.throughputMs,
    connections: WRITER_CONNECTIONS,
    items: p.items,
    largeRows: p.largeRows,
    largeCount,
  })) as ThroughputResult;
  // Upstream WAL position when the writer stopped; the replica's stateVersion is a commit LSN.
  // (The change log lives in the same database, so upstream WAL keeps growing while the node
  // stores what it receives: measure against the stop position, not the current one.)
  const [{lsn}] = await db.sql<[{lsn: string}]>`SELECT pg_current_wal_lsn()::text AS lsn`;
  const stopLsn = lsnToBigInt(lsn);
  const behind = () => Number(stopLsn - watermarkToLsn(bn.node.replicator.stateVersion));
  const backlogBytes = behind();
  const progress = setInterval(() => {
    note(
      BENCH,
      `catching up: ${megabytes(Math.max(0, behind()))} of WAL to go to the writer's stop`,
    );
  }, 10_000);

  const caughtUpAt = await marker.set(1).finally(() => clearInterval(progress));

  const changes = w.update.rows + w.insert.rows + w.large.rows;
  const txs = w.update.txs + w.insert.txs + w.large.txs;
  await checkReplicaMatches(db, reader);
  ctx.report({
    bench: BENCH,
    metric: 'writer: committed upstream',
    value: `${int(changes)} row changes in ${int(txs)} tx`,
    notes:
      `${int(w.update.txs)} 1-row UPDATE, ${int(w.insert.txs)} INSERT of 2–10 rows ` +
      `(${int(w.insert.rows)} rows), ${w.large.txs} × ${int(p.largeRows)}-row tx`,
  });
  ctx.report({
    bench: BENCH,
    metric: 'writer: upstream commit rate',
    value: `${int(changes / ((w.endedAt - w.startedAt) / 1000))} changes/s`,
    notes: `${int(txs / ((w.endedAt - w.startedAt) / 1000))} tx/s, ${WRITER_CONNECTIONS} connections`,
  });
  ctx.report({
    bench: BENCH,
    metric: 'replica-applied row changes/s',
    value: int(changes / ((caughtUpAt - w.startedAt) / 1000)),
    notes:
      `${int(txs / ((caughtUpAt - w.startedAt) / 1000))} tx/s; ` +
      `writer start → replica caught up: ${seconds(caughtUpAt - w.startedAt)}`,
  });
  ctx.report({
    bench: BENCH,
    metric: 'replica catch-up after the writer stopped',
    value: seconds(caughtUpAt - w.endedAt),
    notes: `the replica was ${megabytes(backlogBytes)} of upstream WAL behind at the stop`,
  });
}

async function latency(
  ctx: BenchContext,
  db: BenchDatabase,
  bn: BenchNode,
  reader: ReplicaDb,
  p: {latencyMs: number; ticks: number},
): Promise<void> {
  note(BENCH, `latency: ${LATENCY_RATE} single-row UPDATE tx/s for ${seconds(p.latencyMs)}`);
  const seenAt = new Array<number>(p.ticks).fill(NaN);
  let low = 0; // every seq below `low` has been seen
  const readNew = reader.prepare('SELECT seq FROM ticks WHERE seq >= ?').pluck();
  const stopWatching = bn.node.replicator.onVersionReady(() => {
    const now = wallClockMs();
    for (const seq of readNew.all(low) as number[])
      if (Number.isNaN(seenAt[seq])) seenAt[seq] = now;
    while (low < p.ticks && !Number.isNaN(seenAt[low])) low++;
  });
  try {
    const w = (await runWriter({
      kind: 'latency',
      url: db.url,
      durationMs: p.latencyMs,
      rate: LATENCY_RATE,
      connections: WRITER_CONNECTIONS,
    })) as LatencyResult;
    const deadline = wallClockMs() + 60_000;
    while (low < w.committedAt.length && wallClockMs() < deadline) await sleep(20);
    if (low < w.committedAt.length)
      throw new Error(`the replica is missing tick ${low} 60 s after the writer stopped`);

    const lags = w.committedAt.map((c, i) => seenAt[i]! - c);
    const commits = w.committedAt.map((c, i) => c - w.sentAt[i]!);
    const lag = summarize(lags);
    const commit = summarize(commits);
    const achieved = w.committedAt.length / ((w.endedAt - w.startedAt) / 1000);
    ctx.report({
      bench: BENCH,
      metric: 'latency run: transactions',
      value: `${int(w.committedAt.length)} at ${fixed(achieved, 0)} tx/s`,
      notes: `upstream COMMIT time p50 ${ms(commit.p50)}, p99 ${ms(commit.p99)}`,
    });
    ctx.report({bench: BENCH, metric: 'commit → replica lag p50', value: ms(lag.p50)});
    ctx.report({bench: BENCH, metric: 'commit → replica lag p90', value: ms(lag.p90)});
    ctx.report({bench: BENCH, metric: 'commit → replica lag p99', value: ms(lag.p99)});
    ctx.report({
      bench: BENCH,
      metric: 'commit → replica lag max',
      value: ms(lag.max),
      notes: `min ${ms(lag.min)}, mean ${ms(lag.mean)}`,
    });
  } finally {
    stopWatching();
  }
}

/** Resolves with the time of the first "version ready" at which `done()` holds. */
function untilReplica(bn: BenchNode, done: () => boolean, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the replica did not catch up within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = bn.node.replicator.onVersionReady(() => {
      if (!done()) return;
      const at = wallClockMs();
      clearTimeout(timer);
      stop();
      resolve(at);
    });
    bn.node.done.catch((e) => {
      clearTimeout(timer);
      stop();
      reject(e);
    });
  });
}

/** The replica holds what upstream holds: same number of events, same total of item updates. */
async function checkReplicaMatches(db: BenchDatabase, reader: ReplicaDb): Promise<void> {
  const [up] = await db.sql<[{events: string; n: string}]>`
    SELECT (SELECT count(*) FROM events)::text AS events, (SELECT sum(n) FROM items)::text AS n`;
  const events = String(reader.prepare('SELECT count(*) FROM events').pluck().get());
  const n = String(reader.prepare('SELECT sum(n) FROM items').pluck().get());
  if (events !== up.events || n !== up.n)
    throw new Error(
      `replica differs from upstream: events ${events} vs ${up.events}, sum(n) ${n} vs ${up.n}`,
    );
}

function runWriter(task: WriterTask): Promise<WriterResult> {
  const child = fork(fileURLToPath(new URL('./replication-writer.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  return new Promise((resolve, reject) => {
    let result: WriterResult | undefined;
    child.once('message', (m: WriterResult) => (result = m));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (result?.kind === 'error') reject(new Error(`writer: ${result.message}`));
      else if (result) resolve(result);
      else reject(new Error(`the writer process exited (${code}) without a result`));
    });
    child.send(task);
  });
}
