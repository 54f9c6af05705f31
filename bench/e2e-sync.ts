import postgres from 'postgres';
import WebSocket from 'ws';
import {
  ANYONE_CAN,
  createSchema,
  definePermissions,
  number,
  relationships,
  string,
  table,
  Zero,
} from '@rocicorp/zero';
import {scaled, type BenchContext} from './bench-context.js';
import {createBenchDatabase} from './bench-postgres.js';
import {int, ms} from './figures.js';
import {summarize} from './percentiles.js';
import {startZcacheServer} from './zcache-server.js';

/**
 * End to end with the real Zero client against zcache started as a process: cold hydration of the
 * open-issues query (with comments and creators) until the client reports it complete, and
 * upstream-commit-to-client latency with 10 client groups watching rows that a writer updates.
 */
class QuietWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on('error', () => {});
  }
}
(globalThis as {WebSocket?: unknown}).WebSocket = QuietWebSocket;

const user = table('user').columns({id: string(), name: string()}).primaryKey('id');
const issue = table('issue')
  .columns({
    id: string(),
    title: string(),
    open: number(),
    modified: number(),
    creatorID: string(),
    seq: number(),
  })
  .primaryKey('id');
const comment = table('comment')
  .columns({id: string(), issueID: string(), body: string(), creatorID: string()})
  .primaryKey('id');
const rels = [
  relationships(issue, ({one, many}) => ({
    creator: one({sourceField: ['creatorID'], destField: ['id'], destSchema: user}),
    comments: many({sourceField: ['id'], destField: ['issueID'], destSchema: comment}),
  })),
  relationships(comment, ({one}) => ({
    creator: one({sourceField: ['creatorID'], destField: ['id'], destSchema: user}),
  })),
];
export const schema = createSchema({
  tables: [user, issue, comment],
  relationships: rels,
  enableLegacyQueries: true,
});

const BENCH = 'e2e';
const GROUPS = 10;

export async function benchEndToEnd(ctx: BenchContext): Promise<void> {
  const issues = scaled(ctx, 10_000, 500);
  const db = await createBenchDatabase(ctx.adminUrl, 'bench_e2e');
  try {
    await seed(db.sql, issues);
    const server = await startZcacheServer(db.url, {ZERO_NUM_SYNC_WORKERS: '1'});
    try {
      ctx.report({
        bench: BENCH,
        metric: 'process start to ready (incl. initial sync)',
        value: ms(server.readyMs),
        notes: `${int(issues)} issues, ${int(issues * 5)} comments`,
      });
      await allowReading(db.sql);
      await new Promise((r) => setTimeout(r, 500));
      await hydration(ctx, server.url);
      await latency(ctx, server.url, db.sql);
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
}

/** The e2e dataset: 100 users, `issues` issues, five comments per issue. */
export async function seed(sql: postgres.Sql, issues: number): Promise<void> {
  await sql.unsafe(`
    CREATE TABLE "user" (id text PRIMARY KEY, name text NOT NULL);
    CREATE TABLE issue (id text PRIMARY KEY, title text NOT NULL, open int NOT NULL, modified float8 NOT NULL, "creatorID" text NOT NULL, seq int NOT NULL DEFAULT 0);
    CREATE TABLE comment (id text PRIMARY KEY, "issueID" text NOT NULL, body text NOT NULL, "creatorID" text NOT NULL);
    CREATE INDEX ON issue (modified);
    CREATE INDEX ON comment ("issueID");
    INSERT INTO "user" SELECT 'u' || g, 'user ' || g FROM generate_series(1, 100) g;
    INSERT INTO issue SELECT 'i' || g, 'issue ' || g, (g % 3 <> 0)::int, g, 'u' || (g % 100 + 1), 0 FROM generate_series(1, ${issues}) g;
    INSERT INTO comment SELECT 'c' || g, 'i' || (g % ${issues} + 1), 'comment ' || g, 'u' || (g % 100 + 1) FROM generate_series(1, ${issues * 5}) g;`);
}

/** Deploys permissions that let anyone read the e2e tables. */
export async function allowReading(sql: postgres.Sql): Promise<void> {
  const perms = await definePermissions<unknown, typeof schema>(schema, () => ({
    user: {row: {select: ANYONE_CAN}},
    issue: {row: {select: ANYONE_CAN}},
    comment: {row: {select: ANYONE_CAN}},
  }));
  await sql`UPDATE zero.permissions SET permissions = ${sql.json(perms as never)}`;
}

export function openIssues(z: Zero<typeof schema>) {
  return z.query.issue
    .where('open', 1)
    .orderBy('modified', 'desc')
    .limit(100)
    .related('comments', (q) => q.limit(10).related('creator'))
    .related('creator');
}

async function hydration(ctx: BenchContext, server: string): Promise<void> {
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const z = new Zero({server, userID: `hydrate-${run}`, schema, kvStore: 'mem'});
    const t0 = performance.now();
    await openIssues(z).run({type: 'complete'});
    times.push(performance.now() - t0);
    await z.close();
  }
  ctx.report({
    bench: BENCH,
    metric: 'cold hydration: open issues by modified desc limit 100, 10 comments each + creators',
    value: ms(summarize(times).p50),
    notes: 'real client, connect to complete result, median of 5 new client groups',
  });
}

async function latency(ctx: BenchContext, server: string, sql: postgres.Sql): Promise<void> {
  const zs = Array.from(
    {length: GROUPS},
    (_, i) => new Zero({server, userID: `watch-${i}`, schema, kvStore: 'mem'}),
  );
  const seen = new Map<number, number[]>();
  const views = zs.map((z, i) => {
    const v = z.query.issue.where('id', `i${i + 1}`).materialize();
    v.addListener((data) => {
      const rows = data as readonly {seq: number}[];
      const s = rows[0]?.seq;
      if (s && !seen.get(s)?.[i]) (seen.get(s) ?? seen.set(s, []).get(s)!)[i] = performance.now();
    });
    return v;
  });
  await Promise.all(
    zs.map((z, i) => z.query.issue.where('id', `i${i + 1}`).run({type: 'complete'})),
  );
  const commits = new Map<number, number>();
  const total = scaled(ctx, 300, 60);
  for (let s = 1; s <= total; s++) {
    const target = `i${(s % GROUPS) + 1}`;
    await sql`UPDATE issue SET seq = ${s} WHERE id = ${target}`;
    commits.set(s, performance.now());
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const lags: number[] = [];
  for (const [s, at] of commits) {
    const group = s % GROUPS;
    const t = seen.get(s)?.[group];
    if (t !== undefined) lags.push(t - at);
  }
  const st = summarize(lags);
  ctx.report({
    bench: BENCH,
    metric: `commit → client, ${GROUPS} client groups`,
    value: `${ms(st.p50)} p50 / ${ms(st.p99)} p99`,
    notes: `${lags.length}/${commits.size} updates seen; ~50 tx/s`,
  });
  views.forEach((v) => v.destroy());
  await Promise.all(zs.map((z) => z.close()));
}
