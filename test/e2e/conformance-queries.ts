import type * as zero025 from '@rocicorp/zero';
import type * as zero19 from 'zero-1.9';
import type {FuzzSchema} from '../zql/fuzz-schema.js';
import {Rng} from '../server/hostile-query-generator.js';

/** The module of one client generation: `@rocicorp/zero` (0.25.9) or `zero-1.9` (1.9.0). */
export type ZeroPackage = typeof zero025 | typeof zero19;

/**
 * The schema and the seeded random queries of the real-client conformance test: issues with
 * comments and labels (through a junction), queried through the real client's builder — nested
 * and/or/not, EXISTS (also through the junction), `related` two levels deep (back to the root
 * table included), orderings with duplicate sort keys, `limit` and `start`. The schema is built
 * with the builders of the given client generation (their APIs have the same shape; the type is
 * 0.25.9's).
 */
export function conformanceSchema(zero: ZeroPackage) {
  const {createSchema, number, relationships, string, table} = zero as typeof zero025;
  const issue = table('issue')
    .columns({
      id: string(),
      title: string(),
      status: string(),
      priority: number(),
      ownerID: string().optional(),
      created: number(),
    })
    .primaryKey('id');
  const comment = table('comment')
    .columns({id: string(), issueID: string(), body: string(), created: number()})
    .primaryKey('id');
  const label = table('label').columns({id: string(), name: string()}).primaryKey('id');
  const issueLabel = table('issueLabel')
    .columns({issueID: string(), labelID: string()})
    .primaryKey('issueID', 'labelID');

  const issueRelationships = relationships(issue, ({many}) => ({
    comments: many({sourceField: ['id'], destField: ['issueID'], destSchema: comment}),
    labels: many(
      {sourceField: ['id'], destField: ['issueID'], destSchema: issueLabel},
      {sourceField: ['labelID'], destField: ['id'], destSchema: label},
    ),
  }));
  const commentRelationships = relationships(comment, ({many}) => ({
    parent: many({sourceField: ['issueID'], destField: ['id'], destSchema: issue}),
  }));

  return createSchema({
    tables: [issue, comment, label, issueLabel],
    relationships: [issueRelationships, commentRelationships],
    enableLegacyQueries: true,
    enableLegacyMutators: true,
  });
}
export type Schema = ReturnType<typeof conformanceSchema>;

export const POSTGRES_DDL = `
  CREATE TABLE issue (id text PRIMARY KEY, title text NOT NULL, status text NOT NULL,
                      priority int NOT NULL, "ownerID" text, created int NOT NULL);
  CREATE TABLE comment (id text PRIMARY KEY, "issueID" text NOT NULL, body text NOT NULL,
                        created int NOT NULL);
  CREATE TABLE label (id text PRIMARY KEY, name text NOT NULL);
  CREATE TABLE "issueLabel" ("issueID" text, "labelID" text, PRIMARY KEY ("issueID", "labelID"));`;

/** The same tables for the SQL oracle. */
export const ORACLE_SCHEMA: FuzzSchema = {
  tables: [
    {
      name: 'issue',
      columns: [
        {name: 'id', type: 'text', nullable: false},
        {name: 'title', type: 'text', nullable: false},
        {name: 'status', type: 'text', nullable: false},
        {name: 'priority', type: 'int', nullable: false},
        {name: 'ownerID', type: 'text', nullable: true},
        {name: 'created', type: 'int', nullable: false},
      ],
      primaryKey: ['id'],
    },
    {
      name: 'comment',
      columns: [
        {name: 'id', type: 'text', nullable: false},
        {name: 'issueID', type: 'text', nullable: false},
        {name: 'body', type: 'text', nullable: false},
        {name: 'created', type: 'int', nullable: false},
      ],
      primaryKey: ['id'],
    },
    {
      name: 'label',
      columns: [
        {name: 'id', type: 'text', nullable: false},
        {name: 'name', type: 'text', nullable: false},
      ],
      primaryKey: ['id'],
    },
    {
      name: 'issueLabel',
      columns: [
        {name: 'issueID', type: 'text', nullable: false},
        {name: 'labelID', type: 'text', nullable: false},
      ],
      primaryKey: ['issueID', 'labelID'],
    },
  ],
};

export const STATUSES = ['open', 'closed', 'triage'];
export const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'Alpha'];
const PATTERNS = ['%a%', 'al%', '%ta', '_eta%', '%'];

// The builder's condition helpers, loosely typed: the generator picks columns at run time.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Cond = any;
type Builder = any;

function issueCondition(r: Rng, eb: Builder, depth: number): Cond {
  const roll = r.next();
  if (depth > 0 && roll < 0.2)
    return eb.or(issueCondition(r, eb, depth - 1), issueCondition(r, eb, depth - 1));
  if (depth > 0 && roll < 0.35)
    return eb.and(issueCondition(r, eb, depth - 1), issueCondition(r, eb, depth - 1));
  if (depth > 0 && roll < 0.5) {
    const rel = r.pick(['comments', 'labels']);
    const sub = (q: Builder) =>
      rel === 'comments'
        ? q.where('created', r.pick(['>', '<=']), r.int(40))
        : q.where('name', r.pick(['=', '!=']), r.pick(WORDS));
    // The 0.25 client refuses not(exists()); NOT EXISTS is covered by the differential fuzzer.
    return eb.exists(rel, sub);
  }
  switch (r.int(5)) {
    case 0:
      return eb.cmp('status', r.pick(['=', '!=']), r.pick(STATUSES));
    case 1:
      return eb.cmp('priority', r.pick(['<', '>', '<=', '>=', '=']), r.int(5));
    case 2:
      return eb.cmp('title', r.pick(['LIKE', 'ILIKE', 'NOT LIKE']), r.pick(PATTERNS));
    case 3:
      return eb.cmp(
        'ownerID',
        r.pick(['IS', 'IS NOT']),
        r.chance(0.5) ? null : r.pick(['u1', 'u2']),
      );
    default:
      return eb.cmp('created', r.pick(['<', '>=']), r.int(40));
  }
}

/**
 * The query builder's roots of either generation: `z.query` of a 0.25.9 client, or
 * `createBuilder(schema)` of 1.9.0 (its queries are not bound to a client).
 */
export type QueryRoots = {readonly issue: unknown; readonly comment: unknown};

/**
 * A random query over issues (or comments), as a query of the builder `zql` came from (its
 * internal `ast` is what it selects).
 */
export function randomQuery(
  r: Rng,
  zql: QueryRoots,
  startRows: Record<string, unknown>[],
): unknown {
  if (r.chance(0.25)) {
    let q: Builder = (zql.comment as Builder).orderBy('created', r.pick(['asc', 'desc']));
    if (r.chance(0.5)) q = q.where('body', 'LIKE', r.pick(PATTERNS));
    if (r.chance(0.5)) q = q.limit(1 + r.int(4));
    return q.related('parent', (p: Builder) =>
      p.related('comments', (c: Builder) => c.orderBy('id', 'asc')),
    );
  }
  let q: Builder = zql.issue;
  if (r.chance(0.8)) q = q.where((eb: Builder) => issueCondition(r, eb, 2));
  // Duplicate sort keys (status, priority) leave ties to the primary key.
  for (const col of r.pick([['status'], ['priority', 'created'], ['status', 'priority'], []]))
    q = q.orderBy(col, r.pick(['asc', 'desc']));
  if (r.chance(0.5)) q = q.limit(1 + r.int(5));
  if (r.chance(0.2) && startRows.length) q = q.start(r.pick(startRows), {inclusive: r.chance(0.5)});
  if (r.chance(0.6))
    q = q.related('comments', (c: Builder) => {
      let s = c.orderBy('created', r.pick(['asc', 'desc']));
      if (r.chance(0.5)) s = s.limit(1 + r.int(3));
      return r.chance(0.5) ? s.related('parent') : s;
    });
  // The client refuses an ordering inside a junction relationship: labels come in junction order.
  if (r.chance(0.4)) q = q.related('labels');
  return q;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
