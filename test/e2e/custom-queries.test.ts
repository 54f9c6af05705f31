import http from 'node:http';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {
  createBuilder,
  createSchema,
  defineQueries,
  defineQuery,
  mustGetQuery,
  number,
  string,
  table,
  Zero,
} from '@rocicorp/zero';
import {handleQueryRequest} from '@rocicorp/zero/server';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * Custom (named) queries: zcache sends their names and args to ZERO_QUERY_URL, an API server built
 * with @rocicorp/zero's own helpers answers with ASTs, and the client syncs the results; a query the
 * API server refuses reaches the client as a transformError.
 */
const item = table('item').columns({id: number(), kind: string(), v: string()}).primaryKey('id');
const schema = createSchema({tables: [item]});
const builder = createBuilder(schema);
const queries = defineQueries({
  itemsOfKind: defineQuery(({args}: {args: {kind: string}}) =>
    builder.item.where('kind', args.kind).orderBy('id', 'asc'),
  ),
  // Runs on the client (no context) but is refused by the API server (context 'server').
  refused: defineQuery(({args, ctx}: {args: {why: string}; ctx: unknown}) => {
    if (ctx === 'server') throw new Error(`refused: ${args.why}`);
    return builder.item.where('id', -1);
  }),
});

let db: TestDatabase;
let node: ZcacheNode;
let api: http.Server;
const seenAuth: (string | undefined)[] = [];
const clients: Zero<typeof schema>[] = [];

/** The view of a custom query (the registry's types are not tied to this schema). */
interface ItemView {
  readonly data: readonly {id: number}[];
  addListener(l: (data: unknown, type: string, error?: unknown) => void): () => void;
  destroy(): void;
}

async function startApiServer(port: number): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seenAuth.push(req.headers.authorization);
    const body = JSON.parse(Buffer.concat(chunks).toString());
    const answer = await handleQueryRequest(
      (name, args) => {
        const query = mustGetQuery(queries as never, name) as unknown as {
          fn(o: {args: unknown; ctx: unknown}): never;
        };
        return query.fn({args, ctx: 'server'});
      },
      schema,
      body,
    );
    res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify(answer));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return server;
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_custom');
  await db.sql.unsafe(`
    CREATE TABLE item (id int PRIMARY KEY, kind text NOT NULL, v text NOT NULL);
    INSERT INTO item SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END, 'v' || g FROM generate_series(1, 20) g;`);
  const apiPort = await freePort();
  api = await startApiServer(apiPort);
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {ZERO_NUM_SYNC_WORKERS: '1', ZERO_QUERY_URL: `http://127.0.0.1:${apiPort}/query`},
  });
  await node.startAndWaitStreaming();
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await node?.close();
  await new Promise((r) => api?.close(r));
  await db?.drop();
});

test('a custom query is transformed by the API server and its rows sync', async () => {
  const z = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID: 'u1',
    schema,
    kvStore: 'mem',
    auth: 'secret-token',
  });
  clients.push(z);
  const view = z.materialize(queries.itemsOfKind({kind: 'even'}) as never) as unknown as ItemView;
  await eventually(async () => {
    const expected = await db.sql`SELECT id FROM item WHERE kind = 'even' ORDER BY id`;
    expect(view.data.map((r) => r.id)).toEqual(expected.map((r) => r.id));
  });
  await db.sql`INSERT INTO item VALUES (100, 'even', 'new')`;
  await eventually(() => expect(view.data.map((r) => r.id)).toContain(100));
  expect(seenAuth).toContain('Bearer secret-token');
  view.destroy();
});

test('a query the API server refuses reaches the client as a transformError', async () => {
  const z = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID: 'u2',
    schema,
    kvStore: 'mem',
  });
  clients.push(z);
  const view = z.materialize(queries.refused({why: 'nope'}) as never) as unknown as ItemView;
  let error: unknown;
  view.addListener((_data, _type, err) => {
    if (err) error = err;
  });
  await eventually(() => expect(JSON.stringify(error)).toMatch(/refused: nope/));
  view.destroy();
});
