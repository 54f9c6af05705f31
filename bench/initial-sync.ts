import type {ReplicaDb} from '../src/replica/replica-file.js';
import {scaled, type BenchContext} from './bench-context.js';
import {COPY_WORKERS, startBenchNode} from './bench-node.js';
import {createBenchDatabase} from './bench-postgres.js';
import {captureLog} from './captured-log.js';
import {wallClockMs} from './clock.js';
import {fixed, int, megabytes, ms, note, seconds} from './figures.js';

/**
 * Initial sync of an issue-tracker-shaped upstream (users, issues, comments, labels, issue_label:
 * 1,000,000 rows at BENCH_SCALE=1), seeded server-side with generate_series. The figure is the node's
 * own account — `initial sync: N rows (B bytes) in T ms` (B = COPY text bytes) — beside the wall time of
 * startReplicationNode from call to return and the size of the resulting replica file.
 */
const BENCH = 'initial-sync';

export interface TableCounts {
  users: number;
  issues: number;
  comments: number;
  labels: number;
  issue_label: number;
}

/** A random-looking 21-character text id, as Zero apps use (nanoid-like), from a series number. */
const id = (prefix: string, n: string) =>
  `('${prefix}' || substr(md5('${prefix}' || (${n})), 1, 20))`;

/** SQL that creates and fills the issue-tracker tables with `c` rows each. */
export function seedSql(c: TableCounts): string {
  return `
CREATE TABLE users (
  id text PRIMARY KEY, login text NOT NULL, name text, email text NOT NULL, role text NOT NULL,
  created_at timestamptz NOT NULL, is_admin boolean NOT NULL, settings jsonb);
INSERT INTO users
  SELECT ${id('u', 'g')}, 'user' || g, 'User ' || initcap(substr(md5(g::text), 1, 8)),
         'user' || g || '@example.com', (ARRAY['member','admin','guest'])[1 + g % 3],
         timestamptz '2023-01-01 00:00:00+00' + g * interval '17 minutes', g % 97 = 0,
         CASE WHEN g % 4 = 0 THEN NULL
              ELSE jsonb_build_object('theme', (ARRAY['light','dark'])[1 + g % 2], 'notify', g % 3 <> 0) END
  FROM generate_series(0, ${c.users - 1}) g;

CREATE TABLE issues (
  id text PRIMARY KEY, short_id integer NOT NULL, title text NOT NULL, description text,
  status text NOT NULL, priority integer NOT NULL, estimate double precision, open boolean NOT NULL,
  creator_id text NOT NULL, assignee_id text, created_at timestamptz NOT NULL,
  modified_at timestamp NOT NULL, due_date date, metadata jsonb NOT NULL);
INSERT INTO issues
  SELECT ${id('i', 'g')}, g, 'Issue ' || g || ': ' || substr(md5(g::text) || md5((g + 1)::text), 1, 20 + g % 40),
         repeat(md5(g::text) || ' ', 1 + g % 12), (ARRAY['open','in_progress','done','closed'])[1 + g % 4],
         g % 5, CASE WHEN g % 3 = 0 THEN NULL ELSE (g % 40) / 4.0 END, g % 4 < 2,
         ${id('u', `g % ${c.users}`)}, CASE WHEN g % 10 < 3 THEN NULL ELSE ${id('u', `(g * 7) % ${c.users}`)} END,
         timestamptz '2024-01-01 00:00:00+00' + g * interval '37 seconds' + (g % 1000) * interval '1 millisecond',
         timestamp '2024-02-01 00:00:00' + g * interval '61 seconds',
         CASE WHEN g % 6 = 0 THEN date '2025-01-01' + g % 365 END,
         jsonb_build_object('labels', jsonb_build_array('l' || g % 7, 'l' || g % 11), 'points', g % 13,
                            'flagged', g % 17 = 0, 'note', CASE WHEN g % 5 = 0 THEN md5(g::text) END)
  FROM generate_series(0, ${c.issues - 1}) g;
CREATE INDEX issues_modified ON issues (modified_at);

CREATE TABLE comments (
  id text PRIMARY KEY, issue_id text NOT NULL, creator_id text NOT NULL, body text NOT NULL,
  created_at timestamptz NOT NULL, edited boolean NOT NULL, reactions integer NOT NULL);
INSERT INTO comments
  SELECT ${id('c', 'g')}, ${id('i', `g % ${c.issues}`)}, ${id('u', `(g * 13) % ${c.users}`)},
         repeat(md5((g * 7)::text) || ' ', 1 + g % 6),
         timestamptz '2024-01-01 00:00:00+00' + g * interval '7 seconds', g % 9 = 0, g % 4
  FROM generate_series(0, ${c.comments - 1}) g;
CREATE INDEX comments_issue ON comments (issue_id, created_at);

CREATE TABLE labels (id text PRIMARY KEY, name text NOT NULL, color text NOT NULL);
INSERT INTO labels
  SELECT ${id('l', 'g')}, 'label-' || g, '#' || substr(md5(g::text), 1, 6)
  FROM generate_series(0, ${c.labels - 1}) g;

CREATE TABLE issue_label (
  issue_id text NOT NULL, label_id text NOT NULL, created_at timestamptz NOT NULL,
  PRIMARY KEY (issue_id, label_id));
INSERT INTO issue_label
  SELECT ${id('i', `g % ${c.issues}`)}, ${id('l', `(g / ${c.issues} + (g % ${c.issues}) * 7) % ${c.labels}`)},
         timestamptz '2024-03-01 00:00:00+00' + g * interval '3 seconds'
  FROM generate_series(0, ${c.issue_label - 1}) g;
`;
}

/** 1,000,000 rows at BENCH_SCALE=1. */
export function issueTrackerCounts(ctx: BenchContext): TableCounts {
  return {
    users: scaled(ctx, 50_000, 10),
    issues: scaled(ctx, 100_000, 10),
    comments: scaled(ctx, 600_000, 10),
    labels: scaled(ctx, 1_000, 10),
    issue_label: scaled(ctx, 249_000, 10),
  };
}

export async function benchInitialSync(ctx: BenchContext): Promise<void> {
  const counts = issueTrackerCounts(ctx);
  // issue_label pairs (issue, label) are unique while each issue has fewer labels than there are.
  if (counts.issue_label / counts.issues >= counts.labels) throw new Error('too few labels');
  const expectedRows = Object.values(counts).reduce((a, b) => a + b, 0);

  const db = await createBenchDatabase(ctx.adminUrl, 'bench_initial_sync');
  const log = captureLog(BENCH);
  try {
    let t = wallClockMs();
    await db.sql.unsafe(seedSql(counts));
    await db.sql`VACUUM (FREEZE, ANALYZE)`;
    await db.sql`CHECKPOINT`;
    const [{bytes: upstreamBytes}] = await db.sql<[{bytes: string}]>`
      SELECT sum(pg_total_relation_size(c.oid))::text AS bytes FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r'`;
    note(
      BENCH,
      `seeded ${int(expectedRows)} rows (${megabytes(Number(upstreamBytes))} upstream incl. indexes) in ${seconds(wallClockMs() - t)}`,
    );

    t = wallClockMs();
    const bn = await startBenchNode(db.url, log.logger, {stallMs: 30_000});
    try {
      const m = log.last(/initial sync: (\d+) rows \((\d+) bytes\) in (\d+) ms/);
      if (!m) throw new Error('the node did not log its initial sync figures');
      const [rows, bytes, syncMs] = [Number(m[1]), Number(m[2]), Number(m[3])];
      // The node also copies zero's own shard tables (schemaVersions, permissions: a row each).
      if (rows < expectedRows || rows > expectedRows + 10)
        throw new Error(`initial sync copied ${rows} rows, expected ${expectedRows} + a few`);
      checkReplicaCounts(bn.node.replica, counts);
      noteLogPhases(log.lines, t, t + bn.startMs);

      ctx.report({
        bench: BENCH,
        metric: 'rows copied',
        value: int(rows),
        notes: `5 app tables + ${rows - expectedRows} rows of zero's tables, ${COPY_WORKERS} copy workers`,
      });
      ctx.report({
        bench: BENCH,
        metric: 'initial sync time',
        value: ms(syncMs),
        notes: 'as logged by the node',
      });
      ctx.report({bench: BENCH, metric: 'rows/s', value: int(rows / (syncMs / 1000))});
      ctx.report({
        bench: BENCH,
        metric: 'MB/s',
        value: fixed(bytes / 1e6 / (syncMs / 1000), 1),
        notes: `COPY text bytes, ${megabytes(bytes)} total`,
      });
      ctx.report({
        bench: BENCH,
        metric: 'startReplicationNode, call to return',
        value: ms(bn.startMs),
        notes: 'upstream setup + initial sync + change log reset',
      });
      await bn.stop();
      ctx.report({
        bench: BENCH,
        metric: 'replica file size',
        value: megabytes(bn.replicaBytes()),
        notes: `after close; upstream heap+indexes ${megabytes(Number(upstreamBytes))}`,
      });
      ctx.report({
        bench: BENCH,
        metric: 'peak RSS of the bench process',
        value: megabytes(process.resourceUsage().maxRSS * 1024),
      });
    } finally {
      await bn.stop();
      bn.removeFiles();
    }
  } finally {
    await db.drop();
  }
}

function checkReplicaCounts(replica: ReplicaDb, counts: TableCounts): void {
  for (const [table, expected] of Object.entries(counts)) {
    const got = Number(replica.prepare(`SELECT count(*) FROM "${table}"`).pluck().get());
    if (got !== expected)
      throw new Error(`replica table ${table} has ${got} rows, expected ${expected}`);
  }
}

/** Where startReplicationNode's time went, from the times of the node's own log lines. */
function noteLogPhases(
  lines: readonly {at: number; text: string}[],
  start: number,
  end: number,
): void {
  const at = (re: RegExp) => lines.find((l) => re.test(l.text))?.at;
  const copying = at(/initial sync: copying/);
  const synced = at(/initial sync: \d+ rows/);
  if (copying === undefined || synced === undefined) return;
  note(
    BENCH,
    `phases: setup+slot ${ms(copying - start)}, copy+indexes+commit ${ms(synced - copying)}, ` +
      `change log reset etc. ${ms(end - synced)}`,
  );
}
