import {scaled, type BenchContext} from './bench-context.js';
import {createBenchDatabase} from './bench-postgres.js';
import {ALLOW_ALL, measureCommitToPoke, openGroup, watchCells} from './cell-watchers.js';
import {int, ms} from './figures.js';
import {longScanKeepingNothing} from '../test/support/long-scan-query.js';
import {startZcacheServer} from './zcache-server.js';

/**
 * Fairness on one sync worker: N client groups each watch one row while a writer updates the rows
 * round-robin; commit-to-poke latency p50/p99 is measured without and then with one heavy group
 * whose query takes seconds to hydrate (a LIKE scan that cannot use an index and keeps no row),
 * which time slicing must keep from starving the others. Raw sockets stand in for clients (the real
 * client is measured in e2e-sync.ts).
 *
 * The heavy query is ordered by its primary key: ordered by a column with no index, SQLite sorts
 * the whole table inside the first row's read, one synchronous call no time slicing can split
 * (about 0.2 s per 300k rows here). Such a query wants an index upstream, as with zero-cache.
 */
const BENCH = 'fairness';

export async function benchFairness(ctx: BenchContext): Promise<void> {
  const groups = scaled(ctx, 200, 20);
  const db = await createBenchDatabase(ctx.adminUrl, 'bench_fair');
  try {
    await db.sql.unsafe(`
      CREATE TABLE cell (id int PRIMARY KEY, seq int NOT NULL);
      CREATE TABLE heavy (id int PRIMARY KEY, v text NOT NULL);
      INSERT INTO cell SELECT g, 0 FROM generate_series(1, ${groups}) g;
      INSERT INTO heavy SELECT g, md5(g::text) FROM generate_series(1, ${scaled(ctx, 300_000, 20_000)}) g;`);
    const server = await startZcacheServer(db.url, {ZERO_NUM_SYNC_WORKERS: '1'});
    try {
      await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json({tables: {cell: ALLOW_ALL, heavy: ALLOW_ALL}} as never)}`;
      await new Promise((r) => setTimeout(r, 500));
      const watchers = await watchCells(server.url, groups);
      const commits = scaled(ctx, 400, 100);
      const quiet = await measureCommitToPoke(db.sql, watchers, commits);
      ctx.report({
        bench: BENCH,
        metric: `commit → poke, ${int(groups)} groups on one worker`,
        value: `${ms(quiet.p50)} p50 / ${ms(quiet.p99)} p99`,
      });
      const heavy = watchHeavy(server.url);
      const busy = await measureCommitToPoke(db.sql, watchers, commits);
      ctx.report({
        bench: BENCH,
        metric: `… while another group hydrates a multi-second query`,
        value: `${ms(busy.p50)} p50 / ${ms(busy.p99)} p99`,
        notes: `heavy hydration took ${ms(await heavy)}`,
      });
      watchers.forEach((w) => w.ws.close());
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
}

function watchHeavy(server: string): Promise<number> {
  const started = performance.now();
  const ws = openGroup(server, 'heavy', longScanKeepingNothing('heavy'));
  return new Promise((resolve) => {
    ws.on('message', (d) => {
      if ((JSON.parse(String(d)) as [string])[0] === 'pokeEnd') {
        resolve(performance.now() - started);
        ws.close();
      }
    });
  });
}
