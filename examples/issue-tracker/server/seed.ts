import type postgres from 'postgres';

/**
 * The demo's tables in Postgres (matching shared/schema.ts; camelCase names are quoted) and a
 * deterministic starting set of users, labels, issues and comments. Idempotent: a database that
 * already has users is left as it is, so a restarted demo keeps what people typed.
 */
const DDL = `
  CREATE TABLE IF NOT EXISTS "user" (id text PRIMARY KEY, name text NOT NULL);
  CREATE TABLE IF NOT EXISTS issue (
    id text PRIMARY KEY,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    open boolean NOT NULL DEFAULT true,
    "creatorID" text NOT NULL REFERENCES "user"(id),
    created double precision NOT NULL,
    modified double precision NOT NULL);
  CREATE INDEX IF NOT EXISTS issue_modified ON issue (modified DESC);
  CREATE TABLE IF NOT EXISTS comment (
    id text PRIMARY KEY,
    "issueID" text NOT NULL REFERENCES issue(id) ON DELETE CASCADE,
    "creatorID" text NOT NULL REFERENCES "user"(id),
    body text NOT NULL,
    created double precision NOT NULL);
  CREATE INDEX IF NOT EXISTS comment_issue ON comment ("issueID");
  CREATE TABLE IF NOT EXISTS label (id text PRIMARY KEY, name text NOT NULL);
  CREATE TABLE IF NOT EXISTS "issueLabel" (
    "issueID" text NOT NULL REFERENCES issue(id) ON DELETE CASCADE,
    "labelID" text NOT NULL REFERENCES label(id),
    PRIMARY KEY ("issueID", "labelID"));`;

export const SEED_USERS = [
  {id: 'ada', name: 'Ada Lovelace'},
  {id: 'grace', name: 'Grace Hopper'},
  {id: 'linus', name: 'Linus Torvalds'},
  {id: 'barbara', name: 'Barbara Liskov'},
];

const LABELS = ['bug', 'feature', 'docs', 'performance', 'question'];
const SUBJECTS = ['replica', 'poke', 'client view', 'mutator', 'query', 'backup', 'dashboard'];
const PROBLEMS = [
  'is slow',
  'crashes on start',
  'needs docs',
  'shows stale rows',
  'could be simpler',
];

/** Creates the tables and, on an empty database, seeds `issues` issues with a few comments each. */
export async function seedDemo(sql: postgres.Sql, issues = 200): Promise<void> {
  await sql.unsafe(DDL);
  const [{n}] = (await sql`SELECT count(*)::int AS n FROM "user"`) as unknown as [{n: number}];
  if (n > 0) return;
  const start = Date.UTC(2026, 0, 1);
  await sql.begin(async (tx) => {
    await tx`INSERT INTO "user" ${tx(SEED_USERS)}`;
    await tx`INSERT INTO label ${tx(LABELS.map((name) => ({id: name, name})))}`;
    const rows = Array.from({length: issues}, (_, i) => {
      const created = start + i * 3_600_000;
      return {
        id: `issue-${i + 1}`,
        title: `The ${SUBJECTS[i % SUBJECTS.length]} ${PROBLEMS[i % PROBLEMS.length]}`,
        description: `Seeded issue number ${i + 1}.`,
        open: i % 4 !== 0,
        creatorID: SEED_USERS[i % SEED_USERS.length]!.id,
        created,
        modified: created,
      };
    });
    await tx`INSERT INTO issue ${tx(rows)}`;
    const comments = rows.flatMap((r, i) =>
      Array.from({length: i % 3}, (_, j) => ({
        id: `${r.id}-c${j + 1}`,
        issueID: r.id,
        creatorID: SEED_USERS[(i + j + 1) % SEED_USERS.length]!.id,
        body: j === 0 ? 'I can reproduce this.' : 'Fixed on my machine.',
        created: r.created + (j + 1) * 60_000,
      })),
    );
    await tx`INSERT INTO comment ${tx(comments)}`;
    const links = rows.map((r, i) => ({issueID: r.id, labelID: LABELS[i % LABELS.length]!}));
    await tx`INSERT INTO "issueLabel" ${tx(links)}`;
  });
}
