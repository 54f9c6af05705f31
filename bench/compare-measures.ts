import type postgres from 'postgres';
import {Zero} from '@rocicorp/zero';
import {ALLOW_ALL, pokeLatencies, watchCells, type Watcher} from './cell-watchers.js';
import {allowReading, openIssues, schema, seed} from './e2e-sync.js';
import {summarize, type Summary} from './percentiles.js';
import {resetTimeline, serverPartMs, TimelineWebSocket} from './socket-timeline.js';
import {treeMemory} from './process-memory.js';
import type {ZcacheServer} from './zcache-server.js';

/**
 * The measurements of the side-by-side comparison, each made the same way against whichever
 * server `start` launches (zcache or the reference zero-cache). Every one takes a fresh database
 * and returns plain numbers; compare.ts puts them side by side.
 */
export type StartServer = (
  upstreamUrl: string,
  env?: Record<string, string>,
) => Promise<ZcacheServer>;

export interface Database {
  url: string;
  sql: postgres.Sql;
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Process start to ready on the e2e dataset, idle memory, then cold hydration (real client). */
export async function measureAppDataset(
  start: StartServer,
  db: Database,
  issues: number,
): Promise<{
  readyMs: number;
  idleRssBytes: number;
  idlePssBytes: number;
  hydration: Record<string, number>;
}> {
  await seed(db.sql, issues);
  const server = await start(db.url);
  try {
    await allowReading(db.sql); // the server creates zero.permissions as it starts
    await settle(3000);
    const idle = treeMemory(server.pid);
    const hydration = await coldHydration(server.url);
    return {
      readyMs: server.readyMs,
      idleRssBytes: idle.rssBytes,
      idlePssBytes: idle.pssBytes,
      hydration,
    };
  } finally {
    await server.stop();
  }
}

type Z = Zero<typeof schema>;
// The real client's sockets, timed (after e2e-sync.js installed its own).
(globalThis as {WebSocket?: unknown}).WebSocket = TimelineWebSocket;
const QUERY_SET: Record<string, (z: Z) => {run(o: {type: 'complete'}): Promise<unknown>}> = {
  'open issues, newest 100, 10 comments each + creators': openIssues,
  'one issue with all its comments and their creators': (z) =>
    z.query.issue
      .where('id', 'i42')
      .related('comments', (q) => q.related('creator'))
      .related('creator'),
  'comments of one user, newest 50': (z) =>
    z.query.comment.where('creatorID', 'u7').orderBy('id', 'desc').limit(50),
  'all users': (z) => z.query.user,
};

/**
 * Cold hydration as a user meets it: a new client group connects and waits until its query is
 * complete. Each query alone (median of 5 new groups), then the whole set at once (median of 5).
 * "Cold" is the client group (nothing cached for it), not the server process: two throwaway
 * groups first run the whole set, so that both servers' JITs are as warm as on a server that has
 * been up for a while (the first group after start pays for compiling the hydration path).
 * Each figure comes with its server part (see socket-timeline.ts): the rest is the client's work.
 */
async function coldHydration(server: string): Promise<Record<string, number>> {
  const once = async (run: string, queries: (typeof QUERY_SET)[string][]) => {
    resetTimeline();
    const z = new Zero({server, userID: `hydrate-${run}`, schema, kvStore: 'mem'});
    const t0 = performance.now();
    await Promise.all(queries.map((q) => q(z).run({type: 'complete'})));
    const took = performance.now() - t0;
    const serverPart = serverPartMs();
    await z.close();
    return {took, serverPart};
  };
  for (let warm = 0; warm < 2; warm++) await once(`warm-${warm}`, Object.values(QUERY_SET));
  const medians: Record<string, number> = {};
  const sets: [string, (typeof QUERY_SET)[string][]][] = [
    ...Object.entries(QUERY_SET).map(([name, q]) => [name, [q]] as [string, (typeof q)[]]),
    ['whole set at once', Object.values(QUERY_SET)],
  ];
  for (const [i, [name, queries]] of sets.entries()) {
    const runs = [];
    for (let run = 0; run < 5; run++) runs.push(await once(`q${i}-${run}`, queries));
    medians[name] = summarize(runs.map((r) => r.took)).p50;
    medians[`${name} — server part (query sent → pokeEnd)`] = summarize(
      runs.map((r) => r.serverPart).filter(Number.isFinite),
    ).p50;
  }
  return medians;
}

/**
 * Raw-socket client groups (as bench/many-groups.ts): commit-to-poke latency with each count of
 * groups connected in turn (1, 100, 1,000), memory at the most, then the highest write rate at
 * which every poke arrives within a second. Raw sockets, not the real client: a thousand real
 * clients do not fit in one benchmark process, and the reference's ClientNotFound recovery in a
 * Node-hosted client (it "reloads") made the real-client figure unmeasurable for it.
 */
export async function measureManyGroups(
  start: StartServer,
  db: Database,
  counts: readonly number[],
): Promise<{
  latency: Record<number, Summary & {missing: number}>;
  rssAtMostBytes: number;
  pssAtMostBytes: number;
  idleRssBytes: number;
  maxWriteRate: number;
}> {
  const most = counts[counts.length - 1]!;
  await db.sql.unsafe(`
    CREATE TABLE cell (id int PRIMARY KEY, seq int NOT NULL);
    CREATE TABLE heavy (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO cell SELECT g, 0 FROM generate_series(1, ${most}) g;`);
  const server = await start(db.url);
  const watchers: Watcher[] = [];
  try {
    await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json({tables: {cell: ALLOW_ALL, heavy: ALLOW_ALL}} as never)}`;
    await settle(2000);
    const idle = treeMemory(server.pid);
    const latency: Record<number, Summary & {missing: number}> = {};
    for (const n of counts) {
      watchers.push(...(await watchCells(server.url, n - watchers.length, watchers.length + 1)));
      await settle(1000);
      latency[n] = await atRate(db.sql, watchers, 100, 6000);
    }
    const mem = treeMemory(server.pid);
    const maxWriteRate = await highestSustainedRate(db.sql, watchers.slice(0, 100));
    return {
      latency,
      rssAtMostBytes: mem.rssBytes,
      pssAtMostBytes: mem.pssBytes,
      idleRssBytes: idle.rssBytes,
      maxWriteRate,
    };
  } finally {
    watchers.forEach((w) => w.ws.close());
    await server.stop();
  }
}

let seq = 1_000_000;

/**
 * Commits at `rate` per second for `durationMs` (each commit updating the next watcher's row, up
 * to 32 in flight), then waits two seconds: latency from each commit's return to its poke.
 */
async function atRate(
  sql: postgres.Sql,
  watchers: readonly Watcher[],
  rate: number,
  durationMs: number,
): Promise<Summary & {missing: number; achieved: number}> {
  const made: {seq: number; w: Watcher; at: number}[] = [];
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  for (let i = 0; performance.now() - t0 < durationMs; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await settle(wait);
    while (inFlight.size >= 32) await Promise.race(inFlight);
    const w = watchers[i % watchers.length]!;
    const s = ++seq;
    const p = sql`UPDATE cell SET seq = ${s} WHERE id = ${w.id}`.then(() => {
      made.push({seq: s, w, at: performance.now()});
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const achieved = made.length / (durationMs / 1000);
  await settle(2000);
  return {...pokeLatencies(made), achieved};
}

/** Doubles the write rate from 100/s while every poke arrives and p99 stays under 1 s. */
async function highestSustainedRate(sql: postgres.Sql, watchers: readonly Watcher[]) {
  let best = 0;
  for (let rate = 100; rate <= 6400; rate *= 2) {
    const r = await atRate(sql, watchers, rate, 5000);
    if (r.missing > 0 || r.p99 > 1000 || r.achieved < rate * 0.9) break;
    best = rate;
  }
  return best;
}

/** Process start to ready on a database already holding `rows` rows (initial sync included). */
export async function measureInitialSync(
  start: StartServer,
  db: Database,
  rows: number,
): Promise<{readyMs: number; rowsPerSecond: number}> {
  const server = await start(db.url);
  try {
    return {readyMs: server.readyMs, rowsPerSecond: rows / (server.readyMs / 1000)};
  } finally {
    await server.stop();
  }
}
