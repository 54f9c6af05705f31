import {scaled, type BenchContext} from './bench-context.js';
import {createBenchDatabase} from './bench-postgres.js';
import {ALLOW_ALL, measureCommitToPoke, watchCells, type Watcher} from './cell-watchers.js';
import {int, megabytes, ms, note} from './figures.js';
import {treeMemory} from './process-memory.js';
import {startZcacheServer} from './zcache-server.js';

/**
 * Many connected client groups on one zcache with its default workers: commit-to-poke latency
 * p50/p99 under a steady writer (~100 tx/s, each commit touching one group's row) with 100 and
 * then 1,000 groups connected, and the memory of zcache's processes (idle, at 100 and at 1,000
 * groups).
 */
const BENCH = 'many-groups';

export async function benchManyGroups(ctx: BenchContext): Promise<void> {
  const steps = [scaled(ctx, 100, 10), scaled(ctx, 1000, 20)];
  const db = await createBenchDatabase(ctx.adminUrl, 'bench_many');
  try {
    await db.sql.unsafe(`
      CREATE TABLE cell (id int PRIMARY KEY, seq int NOT NULL);
      CREATE TABLE heavy (id int PRIMARY KEY, v text NOT NULL);
      INSERT INTO cell SELECT g, 0 FROM generate_series(1, ${steps[1]}) g;`);
    const server = await startZcacheServer(db.url);
    try {
      await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json({tables: {cell: ALLOW_ALL, heavy: ALLOW_ALL}} as never)}`;
      await new Promise((r) => setTimeout(r, 1000));
      reportMemory(ctx, server.pid, 'idle (no client groups)');
      const watchers: Watcher[] = [];
      for (const groups of steps) {
        note(BENCH, `connecting ${int(groups - watchers.length)} more groups`);
        watchers.push(
          ...(await watchCells(server.url, groups - watchers.length, watchers.length + 1)),
        );
        const r = await measureCommitToPoke(db.sql, watchers, scaled(ctx, 600, 100));
        ctx.report({
          bench: BENCH,
          metric: `commit → poke, ${int(groups)} client groups, ~100 tx/s`,
          value: `${ms(r.p50)} p50 / ${ms(r.p99)} p99`,
          notes: r.missing ? `${r.missing} pokes missing` : `${int(r.count)} commits`,
        });
        reportMemory(ctx, server.pid, `at ${int(groups)} client groups`);
      }
      watchers.forEach((w) => w.ws.close());
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
}

function reportMemory(ctx: BenchContext, pid: number, when: string): void {
  const m = treeMemory(pid);
  ctx.report({
    bench: BENCH,
    metric: `zcache memory ${when}`,
    value: `${megabytes(m.rssBytes)} RSS / ${megabytes(m.pssBytes)} PSS`,
    notes: `${m.processes} processes`,
  });
}
