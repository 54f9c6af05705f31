import {cpus, loadavg} from 'node:os';
import postgres from 'postgres';
import {createLogger} from '../src/shared/log.js';
import type {BenchContext} from './bench-context.js';
import {startBenchCluster} from './bench-postgres.js';
import {printFigure, type Figure} from './figures.js';
import {benchInitialSync} from './initial-sync.js';
import {markdownTable} from './markdown-table.js';
import {benchReplication} from './replication-throughput.js';
import {benchZqlHydration} from './zql-hydration.js';
import {benchEndToEnd} from './e2e-sync.js';
import {benchFairness} from './fairness.js';
import {benchManyGroups} from './many-groups.js';
import {benchViewSyncerStart} from './view-syncer-start.js';

/**
 * The benchmark runner behind `npm run bench` (see run.ts for the environment variables): starts an
 * embedded Postgres (or uses ZERO_UPSTREAM_DB), runs each benchmark in its own fresh database,
 * prints every figure as it is measured and a markdown table at the end. Exit code 1 if any failed.
 */
const BENCHMARKS: Record<string, (ctx: BenchContext) => Promise<void>> = {
  'initial-sync': benchInitialSync,
  replication: benchReplication,
  zql: benchZqlHydration,
  e2e: benchEndToEnd,
  fairness: benchFairness,
  'many-groups': benchManyGroups,
  'view-syncer-start': benchViewSyncerStart,
};

export async function runBenchmarks(): Promise<number> {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  if (!(scale > 0))
    throw new Error(`BENCH_SCALE must be a positive number, not "${process.env.BENCH_SCALE}"`);
  const only = process.env.BENCH_ONLY;
  if (only && !(only in BENCHMARKS))
    throw new Error(
      `BENCH_ONLY must be one of ${Object.keys(BENCHMARKS).join(', ')}, not "${only}"`,
    );

  const figures: Figure[] = [];
  const report = (f: Figure) => {
    figures.push(f);
    printFigure(f);
  };
  const cluster = await startBenchCluster(createLogger('warn', 'text', {component: 'bench-pg'}));
  const stopOnSignal = () => {
    cluster.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let failed = false;
  try {
    const header = await describeEnvironment(cluster.adminUrl, cluster.description, scale);
    process.stdout.write(`${header}\n\n`);
    for (const [name, bench] of Object.entries(BENCHMARKS)) {
      if (only && only !== name) continue;
      process.stdout.write(`## ${name}\n`);
      try {
        await bench({adminUrl: cluster.adminUrl, scale, report});
      } catch (e) {
        failed = true;
        process.stderr.write(`  [${name}] FAILED: ${e instanceof Error ? e.stack : e}\n`);
        report({
          bench: name,
          metric: 'FAILED',
          value: 'FAILED',
          notes: e instanceof Error ? e.message : String(e),
        });
      }
    }
    process.stdout.write(`\n${header}\nload average at end ${loadAverage()}\n\n`);
    process.stdout.write(
      markdownTable(
        ['benchmark', 'metric', 'value', 'notes'],
        figures.map((f) => [f.bench, f.metric, f.value, f.notes ?? '']),
        ['left', 'left', 'right', 'left'],
      ) + '\n',
    );
  } finally {
    await cluster.stop();
  }
  return failed ? 1 : 0;
}

async function describeEnvironment(url: string, how: string, scale: number): Promise<string> {
  const sql = postgres(url, {max: 1, onnotice: () => {}});
  try {
    const [{server_version}] = await sql<[{server_version: string}]>`SHOW server_version`;
    const [settings] = await sql<[Record<string, string>]>`
      SELECT current_setting('wal_level') AS wal_level, current_setting('fsync') AS fsync,
             current_setting('synchronous_commit') AS synchronous_commit,
             current_setting('shared_buffers') AS shared_buffers,
             current_setting('max_wal_size') AS max_wal_size`;
    const cpu = cpus();
    return [
      `zcache benchmarks — BENCH_SCALE=${scale}, ${new Date().toISOString()}`,
      `node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
        `load average at start ${loadAverage()} (other processes on the machine skew every figure)`,
      `Postgres ${server_version} (${how}): ` +
        Object.entries(settings)
          .map(([k, v]) => `${k}=${v}`)
          .join(', '),
    ]
      .filter(Boolean)
      .join('\n');
  } finally {
    await sql.end();
  }
}

const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
