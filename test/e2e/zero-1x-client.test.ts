import http from 'node:http';
import postgres from 'postgres';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import * as zero025 from '@rocicorp/zero';
import {
  ANYONE_CAN,
  boolean,
  createBuilder,
  createSchema,
  defineMutatorsWithType,
  defineMutatorWithType,
  definePermissions,
  defineQueriesWithType,
  defineQueryWithType,
  mustGetMutator,
  mustGetQuery,
  number,
  relationships,
  string,
  table,
  Zero,
  type ResultType,
  type Transaction,
  type ZeroOptions,
} from 'zero-1.9';
import {handleMutateRequest, handleQueryRequest} from 'zero-1.9/server';
import {zeroPostgresJS, type PostgresJsTransaction} from 'zero-1.9/server/adapters/postgresjs';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, type ZcacheNode, type ZcacheProcess} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * The real @rocicorp/zero 1.9.0 client (sync protocol v51) against zcache, used as a 1.9 app uses
 * it: a schema from 1.9's builders, ad-hoc ZQL (enableLegacyQueries), mutators and queries from
 * defineMutators/defineQueries, and an API server built on 1.9's `zero-1.9/server` helpers in their
 * object forms (`handleMutateRequest` over the postgres.js adapter, `handleQueryRequest`), which
 * answer with the `{kind: 'MutateResponse' | 'QueryResponse', …, userID}` envelopes. Clients
 * authenticate with opaque tokens (`tok-<userID>`) that only the API server reads. Every result is
 * checked against SQL on Postgres; the last test runs a 0.25.9 client beside a 1.9 one.
 */
const user = table('user').columns({id: string(), name: string()}).primaryKey('id');
const issue = table('issue')
  .columns({
    id: string(),
    title: string(),
    open: boolean(),
    modified: number(),
    creatorID: string(),
  })
  .primaryKey('id');
const comment = table('comment')
  .columns({id: string(), issueID: string(), body: string()})
  .primaryKey('id');
const label = table('label').columns({id: string(), name: string()}).primaryKey('id');
const issueLabel = table('issueLabel')
  .columns({issueID: string(), labelID: string()})
  .primaryKey('issueID', 'labelID');
const note = table('note')
  .columns({id: string(), body: string(), author: string()})
  .primaryKey('id');
const schema = createSchema({
  tables: [user, issue, comment, label, issueLabel, note],
  relationships: [
    relationships(issue, ({one, many}) => ({
      creator: one({sourceField: ['creatorID'], destField: ['id'], destSchema: user}),
      comments: many({sourceField: ['id'], destField: ['issueID'], destSchema: comment}),
      labels: many(
        {sourceField: ['id'], destField: ['issueID'], destSchema: issueLabel},
        {sourceField: ['labelID'], destField: ['id'], destSchema: label},
      ),
    })),
  ],
  enableLegacyQueries: true,
});
const zql = createBuilder(schema);

/** Who runs a mutator: on the client from its options, on the API server from the token. */
type Ctx = {userID: string | null};
type Tx = Transaction<typeof schema, PostgresJsTransaction>;
const defineMutator = defineMutatorWithType<typeof schema, Ctx, PostgresJsTransaction>();
const mutators = defineMutatorsWithType<typeof schema>()({
  note: {
    /**
     * Inserts the note as the context's user; on the server it also logs each time it really ran
     * in `applied` (a table outside the Zero schema), so that Postgres counts applications.
     */
    add: defineMutator(
      async ({tx, args, ctx}: {tx: Tx; args: {id: string; body: string}; ctx: Ctx}) => {
        await tx.mutate.note.insert({...args, author: ctx.userID ?? 'nobody'});
        if (tx.location === 'server') {
          await tx.dbTransaction.wrappedTransaction`
            INSERT INTO applied (note_id) VALUES (${args.id})`;
        }
      },
    ),
  },
});

const defineQuery = defineQueryWithType<typeof schema, Ctx>();
const queries = defineQueriesWithType<typeof schema>()({
  issuesByCreator: defineQuery(({args}: {args: {creatorID: string; open: boolean}}) =>
    zql.issue
      .where('creatorID', args.creatorID)
      .where('open', args.open)
      .orderBy('modified', 'desc')
      .related('comments', (q) => q.orderBy('id', 'asc')),
  ),
  /** The API server answers with its own AST: only the labels it currently shows (see below). */
  visibleLabels: defineQuery(() => zql.label.orderBy('id', 'asc')),
});
/** Whether the API server's `visibleLabels` leaves out the docs label (l3). */
let hideDocsLabel = true;

const SETUP = `
CREATE TABLE "user" (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE issue (id text PRIMARY KEY, title text NOT NULL, open bool NOT NULL, modified float8 NOT NULL, "creatorID" text NOT NULL);
CREATE TABLE comment (id text PRIMARY KEY, "issueID" text NOT NULL, body text NOT NULL);
CREATE TABLE label (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE "issueLabel" ("issueID" text, "labelID" text, PRIMARY KEY ("issueID", "labelID"));
CREATE TABLE note (id text PRIMARY KEY, body text NOT NULL, author text NOT NULL);
CREATE TABLE applied (seq serial PRIMARY KEY, note_id text NOT NULL);
INSERT INTO "user" SELECT 'u' || g, 'user ' || g FROM generate_series(1, 5) g;
INSERT INTO issue SELECT 'i' || lpad(g::text, 3, '0'), 'issue ' || g, g % 3 <> 0, g * 10, 'u' || (g % 5 + 1) FROM generate_series(1, 40) g;
INSERT INTO comment SELECT 'c' || lpad(g::text, 3, '0'), 'i' || lpad((g % 40 + 1)::text, 3, '0'), 'comment ' || g FROM generate_series(1, 120) g;
INSERT INTO label VALUES ('l1', 'bug'), ('l2', 'feature'), ('l3', 'docs');
INSERT INTO "issueLabel" SELECT 'i' || lpad(g::text, 3, '0'), CASE WHEN g % 4 = 0 THEN 'l1' ELSE 'l2' END FROM generate_series(1, 40) g;
INSERT INTO "issueLabel" SELECT 'i' || lpad(g::text, 3, '0'), 'l3' FROM generate_series(1, 40, 6) g;
`;

let db: TestDatabase;
let node: ZcacheNode;
let proc: ZcacheProcess;
let api: http.Server;
/** The API server's own connection (the postgres.js adapter's). */
let apiSql: postgres.Sql;
/** Every transform request the API server received: [name, args] per query. */
const transformed: [string, unknown][] = [];
/** Tokens the API server no longer accepts (it answers 401). */
const revokedTokens = new Set<string>();
/** The Authorization header of every transform request. */
const transformTokens: string[] = [];
const closers: {close(): Promise<void>}[] = [];

/** The user the API server acts for: the one the opaque token names (`tok-<userID>[:<role>]`). */
function userOf(req: http.IncomingMessage): string | null {
  return /^Bearer tok-([^:]+)/.exec(req.headers.authorization ?? '')?.[1] ?? null;
}

async function startApiServer(port: number): Promise<http.Server> {
  // zero-1.9 has its own copy of postgres.js (3.4.7, ours is 3.4.9): same API, types that differ
  // by a private brand.
  const dbProvider = zeroPostgresJS(
    schema,
    apiSql as unknown as Parameters<typeof zeroPostgresJS>[1],
  );
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString());
      const url = new URL(req.url ?? '/', 'http://api');
      const userID = userOf(req);
      if (revokedTokens.has(req.headers.authorization ?? '')) return res.writeHead(401).end();
      let answer: unknown;
      if (url.pathname === '/mutate') {
        answer = await handleMutateRequest({
          dbProvider,
          userID,
          query: url.searchParams,
          body,
          handler: (transact) =>
            transact((tx, name, args) =>
              mustGetMutator(mutators, name).fn({tx, args, ctx: {userID}}),
            ),
        });
      } else if (url.pathname === '/query') {
        answer = await handleQueryRequest({
          schema,
          userID,
          query: url.searchParams,
          body,
          handler: (name, args) => {
            transformed.push([name, args]);
            transformTokens.push(req.headers.authorization ?? '');
            if (name === 'visibleLabels' && hideDocsLabel)
              return zql.label.where('id', '!=', 'l3').orderBy('id', 'asc');
            return mustGetQuery(queries, name).fn({args, ctx: {userID}});
          },
        });
      } else {
        return res.writeHead(404).end();
      }
      res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify(answer));
    })().catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return server;
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_zero1x');
  await db.sql.unsafe(SETUP);
  apiSql = postgres(db.url, {onnotice: () => {}, max: 4});
  const apiPort = await freePort();
  api = await startApiServer(apiPort);
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '1',
      ZERO_LOG_LEVEL: 'debug',
      ZERO_MUTATE_URL: `http://127.0.0.1:${apiPort}/mutate`,
      ZERO_QUERY_URL: `http://127.0.0.1:${apiPort}/query`,
      ZERO_AUTH_RETRANSFORM_INTERVAL_SECONDS: '1',
      ZERO_AUTH_REVALIDATE_INTERVAL_SECONDS: '1',
    },
  });
  proc = await node.startAndWaitStreaming();
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    user: {row: {select: ANYONE_CAN}},
    issue: {row: {select: ANYONE_CAN}},
    comment: {row: {select: ANYONE_CAN}},
    label: {row: {select: ANYONE_CAN}},
    issueLabel: {row: {select: ANYONE_CAN}},
    // The 0.25.9 client of the last test writes notes with CRUD mutations.
    note: {
      row: {
        select: ANYONE_CAN,
        insert: ANYONE_CAN,
        update: {preMutation: ANYONE_CAN, postMutation: ANYONE_CAN},
      },
    },
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
}, 120_000);

afterAll(async () => {
  try {
    // Last made, first closed: see the mixed-versions test.
    for (const z of closers.reverse()) await z.close();
  } finally {
    await node?.close();
    await new Promise((r) => (api ? api.close(r) : r(undefined)));
    await apiSql?.end({timeout: 1});
    await db?.drop();
  }
});

/** A 1.9 client of its own client group, authenticated as `userID`. */
function client(
  userID: string,
  opts: Pick<ZeroOptions<typeof schema>, 'logSink' | 'auth'> = {},
): Zero<typeof schema, undefined, Ctx> {
  const z = new Zero<typeof schema, undefined, Ctx>({
    cacheURL: `http://127.0.0.1:${node.port}`,
    userID,
    auth: `tok-${userID}`,
    context: {userID},
    schema,
    mutators,
    kvStore: 'mem',
    ...opts,
  });
  closers.push(z);
  return z;
}

/** Plain JSON of a view's data (rows without the view's internals). */
const plain = (data: unknown) => JSON.parse(JSON.stringify(data)) as unknown;

/** The result type a view's listener last reported. */
function resultTypeOf(view: {addListener(l: (d: unknown, t: ResultType) => void): () => void}) {
  let type: ResultType = 'unknown';
  view.addListener((_d, t) => (type = t));
  return () => type;
}

describe('legacy ZQL queries of the 1.9 client equal Postgres', () => {
  test('orderBy + limit with related one (creator), many (comments, limited) and through a junction (labels)', async () => {
    const z = client('u1');
    const view = z.materialize(
      zql.issue
        .where('open', true)
        .orderBy('modified', 'desc')
        .limit(6)
        .related('creator')
        .related('comments', (q) => q.orderBy('id', 'desc').limit(2))
        .related('labels'),
    );
    const expected = async () => {
      const issues = await db.sql`
        SELECT * FROM issue WHERE open ORDER BY modified DESC, id LIMIT 6`;
      return Promise.all(
        issues.map(async (i) => ({
          ...i,
          creator: (await db.sql`SELECT * FROM "user" WHERE id = ${i.creatorID}`)[0],
          comments: [
            ...(await db.sql`
              SELECT * FROM comment WHERE "issueID" = ${i.id} ORDER BY id DESC LIMIT 2`),
          ],
          labels: [
            ...(await db.sql`
              SELECT l.* FROM label l JOIN "issueLabel" il ON il."labelID" = l.id
              WHERE il."issueID" = ${i.id} ORDER BY l.id`),
          ],
        })),
      );
    };
    const want = plain(await expected());
    expect(want).toHaveLength(6);
    await eventually(() => expect(plain(view.data)).toEqual(want));
    await z.close();
  });

  test('whereExists through the junction, with orderBy and limit', async () => {
    const z = client('u2');
    const view = z.materialize(
      zql.issue
        .whereExists('labels', (q) => q.where('name', 'docs'))
        .orderBy('modified', 'desc')
        .limit(4),
    );
    const rows = await db.sql`
      SELECT i.* FROM issue i
      WHERE EXISTS (SELECT 1 FROM "issueLabel" il JOIN label l ON l.id = il."labelID"
                    WHERE il."issueID" = i.id AND l.name = 'docs')
      ORDER BY modified DESC, id LIMIT 4`;
    expect(rows).toHaveLength(4);
    await eventually(() => expect(plain(view.data)).toEqual(plain(rows)));
    await z.close();
  });

  test('upstream writes (insert, update, delete) reach a materialized view', async () => {
    const z = client('u3');
    const view = z.materialize(
      zql.issue
        .where('creatorID', 'u3')
        .orderBy('id', 'asc')
        .related('comments', (q) => q.orderBy('id', 'asc')),
    );
    const expected = async () => {
      const issues = await db.sql`SELECT * FROM issue WHERE "creatorID" = 'u3' ORDER BY id`;
      return plain(
        await Promise.all(
          issues.map(async (i) => ({
            ...i,
            comments: [
              ...(await db.sql`SELECT * FROM comment WHERE "issueID" = ${i.id} ORDER BY id`),
            ],
          })),
        ),
      );
    };
    const before = await expected();
    await eventually(() => expect(plain(view.data)).toEqual(before));
    await db.sql.begin(async (tx) => {
      await tx`INSERT INTO issue VALUES ('i900', 'new from SQL', true, 9000, 'u3')`;
      await tx`INSERT INTO comment VALUES ('c900', 'i900', 'first comment')`;
      await tx`UPDATE issue SET title = 'renamed in SQL' WHERE id = 'i002'`;
      await tx`DELETE FROM comment WHERE "issueID" = 'i007'`;
    });
    const after = await expected();
    expect(after).not.toEqual(before);
    await eventually(() => expect(plain(view.data)).toEqual(after));
    await z.close();
  });
});

test("a 1.9 custom mutator is applied by the API server exactly once and reaches another client's view", async () => {
  const writer = client('writer');
  const reader = client('reader');
  const readerView = reader.materialize(zql.note.where('id', 'LIKE', 'm-%').orderBy('id', 'asc'));
  const result = writer.mutate(mutators.note.add({id: 'm-1', body: 'hello from 1.9'}));
  expect(await result.client).toEqual({type: 'success'});
  expect(await result.server).toEqual({type: 'success'});
  const notes = await db.sql`SELECT * FROM note WHERE id LIKE 'm-%' ORDER BY id`;
  // The API server ran it as the user of the writer's token.
  expect(plain(notes)).toEqual([{id: 'm-1', body: 'hello from 1.9', author: 'writer'}]);
  await eventually(() => expect(plain(readerView.data)).toEqual(plain(notes)));
  const [{n}] = (await db.sql`SELECT count(*)::int AS n FROM applied WHERE note_id = 'm-1'`) as [
    {n: number},
  ];
  expect(n).toBe(1);
  const [lmid] = await db.sql`
    SELECT "lastMutationID"::int AS id FROM zero_0.clients WHERE "clientID" = ${writer.clientID}`;
  expect(lmid?.id).toBe(1);
  await Promise.all([writer.close(), reader.close()]);
});

test('a connection whose user the API server denies gets nothing of its group, and its pushes are dropped', async () => {
  // Connects as "victim" with mallory's token: the API server acts for mallory and says so,
  // in its answer to zcache's check of the credentials on connect.
  const states: string[] = [];
  const z = client('victim', {auth: 'tok-mallory', logSink: {log: () => {}}});
  z.connection.state.subscribe((s) => states.push(s.name));
  const view = z.materialize(zql.label);
  void z.mutate(mutators.note.add({id: 'other-1', body: 'as someone else'})).server.catch(() => {});
  await eventually(() => expect(states).toContain('needs-auth'));
  expect(view.data).toEqual([]);
  const [{n}] =
    (await db.sql`SELECT count(*)::int AS n FROM applied WHERE note_id = 'other-1'`) as [
      {n: number},
    ];
  expect(n).toBe(0);
  await z.close();
});

test('a connected client whose token the API server stops accepting is disconnected at the next re-validation', async () => {
  const states: string[] = [];
  const z = client('revoked', {logSink: {log: () => {}}});
  z.connection.state.subscribe((s) => states.push(s.name));
  const view = z.materialize(zql.label.orderBy('id', 'asc'));
  await eventually(() => expect(view.data).toHaveLength(3));
  revokedTokens.add('Bearer tok-revoked');
  // ZERO_AUTH_REVALIDATE_INTERVAL_SECONDS is 1 here.
  await eventually(() => expect(states).toContain('needs-auth'));
  await z.close();
});

test('a 1.9 custom query with args is transformed by the API server and its view equals Postgres', async () => {
  const z = client('u4');
  const view = z.materialize(queries.issuesByCreator({creatorID: 'u2', open: true}));
  const issues = await db.sql`
    SELECT * FROM issue WHERE "creatorID" = 'u2' AND open ORDER BY modified DESC, id`;
  const want = plain(
    await Promise.all(
      issues.map(async (i) => ({
        ...i,
        comments: [...(await db.sql`SELECT * FROM comment WHERE "issueID" = ${i.id} ORDER BY id`)],
      })),
    ),
  );
  expect(issues.length).toBeGreaterThan(0);
  await eventually(() => expect(plain(view.data)).toEqual(want));
  expect(transformed).toContainEqual(['issuesByCreator', {creatorID: 'u2', open: true}]);
  await z.close();
});

test('custom queries are transformed again periodically: a changed answer of the API server reaches the client with no action of its own', async () => {
  // A user of its own: clients of one user share their 'mem' storage in this process.
  const z = client('label-watcher');
  const view = z.materialize(queries.visibleLabels());
  const ids = () => (view.data as {id: string}[]).map((l) => l.id);
  await eventually(() => expect(ids()).toEqual(['l1', 'l2']));
  hideDocsLabel = false;
  // Within ZERO_AUTH_RETRANSFORM_INTERVAL_SECONDS (1 s) once the 5 s transform cache expired.
  await eventually(() => expect(ids()).toEqual(['l1', 'l2', 'l3']), 20_000);
  await z.close();
});

test('updateAuth: a new token of the same user is used for the custom queries, which are transformed again with it', async () => {
  const z = client('refresher');
  const view = z.materialize(queries.issuesByCreator({creatorID: 'u3', open: false}));
  await eventually(() => expect(transformTokens).toContain('Bearer tok-refresher'));
  const before = transformTokens.length;
  await z.connection.connect({auth: 'tok-refresher:new'});
  await eventually(() =>
    expect(transformTokens.slice(before)).toContain('Bearer tok-refresher:new'),
  );
  const issues = await db.sql`SELECT id FROM issue WHERE "creatorID" = 'u3' AND NOT open`;
  await eventually(() =>
    expect((view.data as {id: string}[]).map((i) => i.id).sort()).toEqual(
      issues.map((i) => i.id as string).sort(),
    ),
  );
  expect(z.connection.state.current.name).toBe('connected');
  await z.close();
});

/**
 * §6.1 of docs/zero-protocol-1.x-sync.md: after a reconnection a 1.x client reports a query it
 * already had complete only once a poke arrived on the new connection, and a client that is up to
 * date gets no data poke, so zcache owes it an empty one. The same client reconnects here (a zcache
 * restart): a new Zero instance on the same storage would be a new client of the group, whose
 * desired queries change the CVR and bring a real poke, so it would not show the empty one.
 */
test('after zcache restarts, a query that was complete is complete again on reconnection, with no data change', async () => {
  // Losing its socket makes the client log errors; they are expected here.
  const z = client('returning', {logSink: {log: () => {}}});
  const q = zql.label.orderBy('id', 'asc');
  const view = z.materialize(q);
  const typeOf = resultTypeOf(view);
  await eventually(() => expect(typeOf()).toBe('complete'));
  expect(plain(view.data)).toEqual(plain(await db.sql`SELECT * FROM label ORDER BY id`));

  const states: string[] = [];
  z.connection.state.subscribe((s) => states.push(s.name));
  proc.signal('SIGTERM');
  await proc.waitForExit();
  proc = await node.startAndWaitStreaming();
  await eventually(() => {
    expect(states.some((s) => s !== 'connected')).toBe(true);
    expect(z.connection.state.current.name).toBe('connected');
  }, 30_000);

  // A new view of the same query: the client has it as "got" from before, but a 1.x client
  // reports it complete only after a poke on this connection.
  const again = z.materialize(q);
  const typeOfAgain = resultTypeOf(again);
  await eventually(() => expect(typeOfAgain()).toBe('complete'), 20_000);
  expect(await z.run(q, {type: 'complete'})).toEqual(view.data);
  // That poke carried nothing: the client was up to date (same cookie before and after).
  const pokes = proc.lines.filter((l) => l.includes(`poke ${z.clientID}:`));
  expect(pokes.length).toBeGreaterThan(0);
  expect(pokes[0]).toMatch(/: (\S+) → \1, 0 rows/);
  await z.close();
}, 90_000);

test('a query no 1.9 client desires any more expires after its TTL and its rows leave the client', async () => {
  const z = client('ttl-watcher');
  const view = z.materialize(zql.label.where('id', 'l2'), {ttl: 200});
  await eventually(() => expect((view.data as {id: string}[]).map((l) => l.id)).toEqual(['l2']));
  const [desire] = await db.sql`
    SELECT "ttlMs"::int AS ttl FROM "zero_0/cvr".desires WHERE "clientID" = ${z.clientID}`;
  expect(desire?.ttl).toBe(200);
  const before = proc.lines.length;
  view.destroy();
  // The poke that deletes the query's row (the client's only row) once the TTL ran out.
  await eventually(() =>
    expect(
      proc.lines.slice(before).some((l) => l.includes(`poke ${z.clientID}:`) && /, 1 rows/.test(l)),
    ).toBe(true),
  );
  await eventually(async () => {
    const [{n}] = (await db.sql`
      SELECT count(*)::int AS n FROM "zero_0/cvr".rows r JOIN "zero_0/cvr".desires d USING ("clientGroupID")
      WHERE d."clientID" = ${z.clientID} AND d."ttlMs" = 200 AND r."table" = 'label'
        AND r."refCounts" IS NOT NULL`) as [{n: number}];
    expect(n).toBe(0);
  }, 20_000);
  await z.close();
});

test('a logged-out 1.9 client (no userID, no token) syncs its queries', async () => {
  const z = new Zero({
    cacheURL: `http://127.0.0.1:${node.port}`,
    schema,
    kvStore: 'mem',
    context: {userID: null},
  });
  closers.push(z);
  const view = z.materialize(zql.label.orderBy('id', 'asc'));
  const labels = await db.sql`SELECT * FROM label ORDER BY id`;
  await eventually(() => expect(plain(view.data)).toEqual(plain(labels)));
  await z.close();
});

test('CRUD mutations of a 1.9 client (enableLegacyMutators) are applied once and reach another client', async () => {
  const crudSchema = createSchema({
    tables: [
      table('note').columns({id: string(), body: string(), author: string()}).primaryKey('id'),
    ],
    enableLegacyQueries: true,
    enableLegacyMutators: true,
  });
  const open = (userID: string) => {
    const z = new Zero({
      cacheURL: `http://127.0.0.1:${node.port}`,
      userID,
      auth: `tok-${userID}`,
      schema: crudSchema,
      kvStore: 'mem',
    });
    closers.push(z);
    return z;
  };
  const writer = open('crud-writer');
  const reader = open('crud-reader');
  const q = createBuilder(crudSchema).note.where('id', 'LIKE', 'crud-%').orderBy('id', 'asc');
  const view = reader.materialize(q);
  await writer.mutate.note.insert({id: 'crud-1', body: 'CRUD from 1.9', author: 'crud-writer'});
  // An update is checked against the replica's row (as the reference does): wait until it is there.
  await eventually(() => expect(view.data).toHaveLength(1));
  await writer.mutate.note.update({id: 'crud-1', body: 'CRUD from 1.9, edited'});
  await eventually(async () => {
    const rows = await db.sql`SELECT * FROM note WHERE id LIKE 'crud-%'`;
    expect(plain(rows)).toEqual([
      {id: 'crud-1', body: 'CRUD from 1.9, edited', author: 'crud-writer'},
    ]);
  });
  await eventually(() =>
    expect(plain(view.data)).toEqual([
      {id: 'crud-1', body: 'CRUD from 1.9, edited', author: 'crud-writer'},
    ]),
  );
  await eventually(async () => {
    const [lmid] = await db.sql`
      SELECT "lastMutationID"::int AS id FROM zero_0.clients WHERE "clientID" = ${writer.clientID}`;
    expect(lmid?.id).toBe(2);
  });
});

test('a 0.25.9 client and a 1.9 client on the same zcache see each other’s writes and Postgres’s', async () => {
  const oldNote = zero025
    .table('note')
    .columns({id: zero025.string(), body: zero025.string(), author: zero025.string()})
    .primaryKey('id');
  const oldSchema = zero025.createSchema({
    tables: [oldNote],
    enableLegacyQueries: true,
    enableLegacyMutators: true,
  });
  const older = new zero025.Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID: 'old',
    // The API server must act for the same user as the connection claims (or zcache refuses it).
    auth: 'tok-old',
    schema: oldSchema,
    kvStore: 'mem',
  });
  closers.push(older);
  const newer = client('new');
  const oldView = older.query.note.where('id', 'LIKE', 'x-%').orderBy('id', 'asc').materialize();
  const newView = newer.materialize(zql.note.where('id', 'LIKE', 'x-%').orderBy('id', 'asc'));

  await older.mutate.note.insert({id: 'x-old', body: 'CRUD from 0.25.9', author: 'old'});
  expect(
    await newer.mutate(mutators.note.add({id: 'x-new', body: 'custom from 1.9'})).server,
  ).toEqual({type: 'success'});
  await db.sql`INSERT INTO note VALUES ('x-sql', 'from SQL', 'postgres')`;

  const want = plain(
    await eventually(async () => {
      const rows = await db.sql`SELECT * FROM note WHERE id LIKE 'x-%' ORDER BY id`;
      expect(rows.map((r) => r.id)).toEqual(['x-new', 'x-old', 'x-sql']);
      return rows;
    }),
  );
  await eventually(() => {
    expect(plain(oldView.data)).toEqual(want);
    expect(plain(newView.data)).toEqual(want);
  });
  // Both generations register themselves in globalThis.__zero, each recognising only instances of
  // its own class: the later one hangs itself on the earlier, so it must be closed first (the
  // other order throws "No global zero instance found" from 1.9's close()).
  await newer.close();
  await older.close();
});
