import {writeFileSync} from 'node:fs';
import {cpus, totalmem} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import postgres from 'postgres';
import {createLogger} from '../src/shared/log.js';
import {startBenchCluster} from './bench-postgres.js';
import {
  measureAppDataset,
  measureInitialSync,
  measureManyGroups,
  type Database,
  type StartServer,
} from './compare-measures.js';
import {fixed, int, megabytes, ms} from './figures.js';
import {issueTrackerCounts, seedSql} from './initial-sync.js';
import {markdownTable} from './markdown-table.js';
import {ensureReferenceZeroCache, startReferenceZeroCache} from './reference-zero-cache.js';
import {startZcacheServer} from './zcache-server.js';

/**
 * `npm run bench:compare`: zcache and the reference zero-cache 0.25.9, one after the other, on
 * the same embedded Postgres, the same datasets (each server gets its own copy, made from one
 * seeded template database) and the same client workload. Prints one markdown table — each
 * figure for both and the ratio — and writes it to bench/RESULTS.md with the date and machine.
 *
 * BENCH_SCALE multiplies the dataset sizes (1 = 1M rows for initial sync, 10k issues / 50k
 * comments for the app dataset, 1,000 client groups).
 */
type Kind = 'zcache' | 'zero-cache';
const SERVERS: Record<Kind, StartServer> = {
  zcache: startZcacheServer,
  'zero-cache': startReferenceZeroCache,
};

interface Row {
  figure: string;
  better: 'lower' | 'higher';
  values: Partial<Record<Kind, number>>;
  format: (n: number) => string;
}

const rows = new Map<string, Row>();
function record(kind: Kind, figure: string, value: number, better: Row['better'], format = ms) {
  const row = rows.get(figure) ?? {figure, better, values: {}, format};
  row.values[kind] = value;
  rows.set(figure, row);
  process.stdout.write(`  [${kind}] ${figure}: ${format(value)}\n`);
}

const mb = (n: number) => megabytes(n);
const perSecond = (n: number) => `${int(n)}/s`;

async function measure(kind: Kind, templates: Templates, scale: number): Promise<void> {
  const start = SERVERS[kind];
  const app = await templates.copy('empty'); // seeded by measureAppDataset (it is small)
  try {
    const r = await measureAppDataset(start, app, templates.issues);
    record(kind, 'process start to ready (app dataset, incl. initial sync)', r.readyMs, 'lower');
    record(kind, 'idle memory, RSS of all processes', r.idleRssBytes, 'lower', mb);
    record(kind, 'idle memory, PSS of all processes', r.idlePssBytes, 'lower', mb);
    for (const [q, v] of Object.entries(r.hydration))
      record(kind, `cold hydration: ${q}`, v, 'lower');
  } finally {
    await app.drop();
  }
  const cells = await templates.copy('empty');
  try {
    const counts = [
      1,
      Math.max(10, Math.round(100 * scale)),
      Math.max(20, Math.round(1000 * scale)),
    ];
    const r = await measureManyGroups(start, cells, counts);
    for (const n of counts) {
      record(kind, `commit → poke p50, ${int(n)} groups, 100 tx/s`, r.latency[n]!.p50, 'lower');
      record(kind, `commit → poke p99, ${int(n)} groups, 100 tx/s`, r.latency[n]!.p99, 'lower');
    }
    const most = counts[counts.length - 1]!;
    record(kind, `memory at ${int(most)} groups, RSS`, r.rssAtMostBytes, 'lower', mb);
    record(kind, `memory at ${int(most)} groups, PSS`, r.pssAtMostBytes, 'lower', mb);
    record(
      kind,
      'memory per client group (RSS growth / groups)',
      (r.rssAtMostBytes - r.idleRssBytes) / most,
      'lower',
      (n) => `${fixed(n / 1024, 0)} KB`,
    );
    record(
      kind,
      'highest write rate with every poke < 1 s (100 groups)',
      r.maxWriteRate,
      'higher',
      perSecond,
    );
  } finally {
    await cells.drop();
  }
  const big = await templates.copy('big');
  try {
    const r = await measureInitialSync(start, big, templates.bigRows);
    record(
      kind,
      `start to ready, ${int(templates.bigRows)} rows (initial sync)`,
      r.readyMs,
      'lower',
    );
    record(
      kind,
      'initial sync rows/s (rows / start-to-ready)',
      r.rowsPerSecond,
      'higher',
      perSecond,
    );
  } finally {
    await big.drop();
  }
}

interface Templates {
  issues: number;
  bigRows: number;
  copy(name: 'empty' | 'big'): Promise<Database & {drop(): Promise<void>}>;
  drop(): Promise<void>;
}

const TEMPLATES = ['cmp_tpl_empty', 'cmp_tpl_big'];

/** Seeds each dataset once; every server run gets a fresh copy (CREATE DATABASE … TEMPLATE). */
async function seedTemplates(adminUrl: string, scale: number): Promise<Templates> {
  const admin = postgres(adminUrl, {max: 1, onnotice: () => {}});
  const issues = Math.max(500, Math.round(10_000 * scale));
  const counts = issueTrackerCounts({adminUrl, scale, report: () => {}});
  const bigRows = Object.values(counts).reduce((a, b) => a + b, 0);
  const urlOf = (db: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };
  for (const db of TEMPLATES) {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${db}`);
    await admin.unsafe(`CREATE DATABASE ${db}`);
  }
  const big = postgres(urlOf('cmp_tpl_big'), {max: 1, onnotice: () => {}});
  await big.unsafe(seedSql(counts));
  await big.end();
  let n = 0;
  return {
    issues,
    bigRows,
    async copy(name) {
      const db = `cmp_${name}_${++n}`;
      await admin.unsafe(`CREATE DATABASE ${db} TEMPLATE cmp_tpl_${name}`);
      const url = urlOf(db);
      const sql = postgres(url, {max: 4, onnotice: () => {}});
      return {
        url,
        sql,
        async drop() {
          await sql.end();
          await dropWithSlots(admin, db);
        },
      };
    },
    async drop() {
      for (const db of TEMPLATES) await admin.unsafe(`DROP DATABASE IF EXISTS ${db}`);
      await admin.end();
    },
  };
}

/**
 * Drops a database and its replication slots. A stopped server's walsender may linger a moment
 * (the reference's workers exit after their supervisor), and a database with an active slot
 * cannot be dropped: the walsenders are terminated, then the slots dropped, retrying for 20 s.
 */
async function dropWithSlots(admin: postgres.Sql, db: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                   WHERE database = ${db} AND active_pid IS NOT NULL`;
      await admin`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                   WHERE database = ${db} AND NOT active`;
      await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      return;
    } catch (e) {
      if (attempt >= 40) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function table(): string {
  const ratio = (r: Row) => {
    const [a, b] = [r.values.zcache, r.values['zero-cache']];
    if (a === undefined || b === undefined || a === 0 || b === 0) return '—';
    const x = r.better === 'lower' ? b / a : a / b;
    return `${fixed(x, 2)}× ${x >= 1 ? 'better' : 'worse'}`;
  };
  const show = (r: Row, k: Kind) => (r.values[k] === undefined ? 'n/a' : r.format(r.values[k]!));
  return markdownTable(
    ['figure', 'zcache', 'zero-cache 0.25.9', 'zcache vs zero-cache'],
    [...rows.values()].map((r) => [r.figure, show(r, 'zcache'), show(r, 'zero-cache'), ratio(r)]),
    ['left', 'right', 'right', 'left'],
  );
}

async function main(): Promise<number> {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  const only = process.env.COMPARE_ONLY as Kind | undefined;
  await ensureReferenceZeroCache((l) => process.stdout.write(`${l}\n`));
  const cluster = await startBenchCluster(createLogger('warn'));
  const started = new Date();
  try {
    const templates = await seedTemplates(cluster.adminUrl, scale);
    try {
      for (const kind of ['zcache', 'zero-cache'] as const) {
        if (only && only !== kind) continue;
        process.stdout.write(`## ${kind}\n`);
        await measure(kind, templates, scale);
      }
    } finally {
      await templates.drop();
    }
  } finally {
    await cluster.stop();
  }
  const cpu = cpus();
  const header = [
    `# zcache vs zero-cache 0.25.9`,
    '',
    `Measured ${started.toISOString()} on ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ` +
      `${fixed(totalmem() / 2 ** 30, 0)} GiB, node ${process.version} (zcache) / the reference's own Node 22, ` +
      `embedded Postgres 18, BENCH_SCALE=${scale}.`,
    '',
    'Command: `npm run bench:compare` (see bench/compare.ts for what each figure measures).',
    '',
  ].join('\n');
  const out = `${header}\n${table()}\n`;
  process.stdout.write(`\n${out}`);
  if (!only) {
    const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');
    writeFileSync(file, out);
    process.stdout.write(`\nwritten to ${file}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench:compare: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
  },
);
