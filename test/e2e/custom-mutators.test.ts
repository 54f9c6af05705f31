import http from 'node:http';
import type postgres from 'postgres';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {
  ANYONE_CAN,
  createSchema,
  defineMutatorsWithType,
  defineMutatorWithType,
  definePermissions,
  number,
  string,
  table,
  Zero,
  type Transaction,
} from '@rocicorp/zero';
import {PushProcessor} from '@rocicorp/zero/server';
import {zeroPostgresJS} from '@rocicorp/zero/server/adapters/postgresjs';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, type ZcacheNode, type ZcacheProcess} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * Custom mutators end to end: the real client runs them optimistically, zcache forwards them to
 * an API server built on @rocicorp/zero's PushProcessor (over postgres.js), and their outcome comes
 * back through replication. Faults of the API server (500, slow past the timeout, down) and a
 * zcache restart must neither lose nor repeat a mutation: the `counter` table counts how many
 * times the server really applied `bump`.
 */
const item = table('item').columns({id: string(), title: string()}).primaryKey('id');
const counter = table('counter').columns({id: string(), n: number()}).primaryKey('id');
const schema = createSchema({tables: [item, counter], enableLegacyQueries: true});
type Tx = Transaction<typeof schema>;
const defineMutator = defineMutatorWithType<typeof schema>();

const mutators = defineMutatorsWithType<typeof schema>()({
  item: {
    create: defineMutator(async ({tx, args}: {tx: Tx; args: {id: string; title: string}}) => {
      await tx.mutate.item.insert(args);
    }),
    refusedByServer: defineMutator(
      async ({tx, args}: {tx: Tx; args: {id: string; title: string}}) => {
        await tx.mutate.item.insert(args);
        if (tx.location === 'server') throw new Error(`the server refuses ${args.id}`);
      },
    ),
  },
  counter: {
    // Only the server counts (an optimistic +1 would hide a lost or repeated one).
    bump: defineMutator(async ({tx, args}: {tx: Tx; args: {id: string}}) => {
      if (tx.location !== 'server') return;
      const pg = (tx as unknown as {dbTransaction: {wrappedTransaction: postgres.TransactionSql}})
        .dbTransaction.wrappedTransaction;
      await pg`UPDATE counter SET n = n + 1 WHERE id = ${args.id}`;
    }),
  },
});

type Mode = 'ok' | 'status500' | 'slow';
// Generous: on a loaded CI machine an ordinary push must never hit the timeout (a PushFailed puts
// the client in the error state, and the test would wait for a result that never comes).
const API_TIMEOUT_MS = 4000;
const SLOW_MS = API_TIMEOUT_MS + 2000;
let mode: Mode = 'ok';
let db: TestDatabase;
let node: ZcacheNode;
let proc: ZcacheProcess;
let apiPort: number;
let api: http.Server | undefined;
const clients: Zero<typeof schema>[] = [];

function startApiServer(): Promise<http.Server> {
  const processor = new PushProcessor(zeroPostgresJS(schema, db.sql));
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (mode === 'status500') return res.writeHead(500).end('the API server is broken');
    if (mode === 'slow') await new Promise((r) => setTimeout(r, SLOW_MS));
    const url = new URL(req.url ?? '/', 'http://api');
    const body = JSON.parse(Buffer.concat(chunks).toString());
    const answer = await processor.process(mutators as never, url.searchParams, body);
    res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify(answer));
  });
  return new Promise((r) => server.listen(apiPort, '127.0.0.1', () => r(server)));
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_mutators');
  await db.sql.unsafe(`
    CREATE TABLE item (id text PRIMARY KEY, title text NOT NULL);
    CREATE TABLE counter (id text PRIMARY KEY, n int NOT NULL);
    INSERT INTO counter VALUES ('c500', 0), ('slow', 0), ('down', 0), ('restart', 0);`);
  apiPort = await freePort();
  api = await startApiServer();
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '1',
      ZERO_MUTATE_URL: `http://127.0.0.1:${apiPort}/mutate`,
      ZCACHE_API_SERVER_TIMEOUT_MS: String(API_TIMEOUT_MS),
    },
  });
  proc = await node.startAndWaitStreaming();
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    item: {row: {select: ANYONE_CAN}},
    counter: {row: {select: ANYONE_CAN}},
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await node?.close();
  await new Promise((r) => (api ? api.close(r) : r(undefined)));
  await db?.drop();
});

function client(userID: string): Zero<typeof schema> {
  const z = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID,
    schema,
    mutators,
    kvStore: 'mem',
  });
  clients.push(z);
  return z;
}

/** A mutation's server outcome, or (after 30 s) a failure that shows what zcache logged. */
function outcome<T>(server: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no server outcome within 30 s; zcache:\n${proc.describe()}`)),
      30_000,
    );
  });
  return Promise.race([server, late]).finally(() => clearTimeout(timer));
}

const countIn = async (id: string) =>
  (await db.sql`SELECT n FROM counter WHERE id = ${id}`)[0]!.n as number;

test('a mutator shows its result at once, and replication confirms it', async () => {
  const z = client('optimist');
  const view = z.query.item.orderBy('id', 'asc').materialize();
  const result = z.mutate(mutators.item.create({id: 'i1', title: 'first'}));
  await result.client;
  expect(view.data.map((r) => r.id)).toContain('i1'); // before any server round trip
  expect(await outcome(result.server)).toEqual({type: 'success'});
  expect((await db.sql`SELECT title FROM item WHERE id = 'i1'`)[0]?.title).toBe('first');
  await eventually(() => expect(view.data.map((r) => r.title)).toContain('first'));
  view.destroy();
});

test("an application error reaches the client as the mutation's result and its row is rolled back", async () => {
  const z = client('refused');
  const view = z.query.item.where('id', 'nope').materialize();
  const result = z.mutate(mutators.item.refusedByServer({id: 'nope', title: 'x'}));
  await result.client;
  expect(view.data).toHaveLength(1); // optimistic
  const server = await outcome(result.server);
  expect(server).toMatchObject({
    type: 'error',
    error: {type: 'app', message: 'the server refuses nope'},
  });
  await eventually(() => expect(view.data).toHaveLength(0));
  expect(await db.sql`SELECT 1 FROM item WHERE id = 'nope'`).toHaveLength(0);
  view.destroy();
});

/** Bumps `id` `times` times while the API server misbehaves, then heals it and reconnects. */
async function bumpThroughFault(
  id: string,
  times: number,
  fault: () => Promise<void>,
  heal: () => Promise<void>,
) {
  const z = client(`faulty-${id}`);
  const bystander = client(`bystander-${id}`);
  const bystanderView = bystander.query.counter.where('id', id).materialize();
  await eventually(() => expect(bystanderView.data).toHaveLength(1));
  await eventually(() => expect(z.connection.state.current.name).toBe('connected'));
  await fault();
  for (let i = 0; i < times; i++) void z.mutate(mutators.counter.bump({id})).server;
  // PushFailed puts the pushing client in the error state; the bystander stays connected.
  await eventually(() => expect(z.connection.state.current.name).toBe('error'), 15_000);
  expect(bystander.connection.state.current.name).toBe('connected');
  // What the client was told (the PushFailed message) names neither the API server's address
  // nor its URL's path.
  const told = String((z.connection.state.current as {reason?: unknown}).reason);
  expect(told).toContain('API server');
  expect(told).not.toMatch(new RegExp(`127\\.0\\.0\\.1|${apiPort}|/mutate`));
  await heal();
  await z.connection.connect();
  await eventually(async () => expect(await countIn(id)).toBe(times), 20_000);
  await eventually(() => expect(bystanderView.data[0]?.n).toBe(times));
  // Nothing is applied a second time later on.
  await new Promise((r) => setTimeout(r, 1500));
  expect(await countIn(id)).toBe(times);
  bystanderView.destroy();
}

test('an API server answering 500: PushFailed to the pushing client, then every mutation exactly once', async () => {
  await bumpThroughFault(
    'c500',
    3,
    async () => void (mode = 'status500'),
    async () => void (mode = 'ok'),
  );
});

test('an API server slower than the timeout: PushFailed, and the late-applied mutations are not repeated', async () => {
  await bumpThroughFault(
    'slow',
    2,
    async () => void (mode = 'slow'),
    async () => {
      await new Promise((r) => setTimeout(r, SLOW_MS - API_TIMEOUT_MS + 1000)); // the slow requests finish
      mode = 'ok';
    },
  );
});

test('an API server that is down: PushFailed, then every mutation exactly once when it is back', async () => {
  await bumpThroughFault(
    'down',
    3,
    async () => {
      await new Promise((r) => api!.close(r));
      api!.closeAllConnections();
      api = undefined;
    },
    async () => {
      api = await startApiServer();
    },
  );
});

test('zcache restarting while mutations are in flight loses none and repeats none', async () => {
  const z = client('restart');
  const view = z.query.counter.where('id', 'restart').materialize();
  await eventually(() => expect(view.data).toHaveLength(1));
  mode = 'slow'; // the pushes are still at the API server when zcache goes down
  for (let i = 0; i < 3; i++) void z.mutate(mutators.counter.bump({id: 'restart'})).server;
  await new Promise((r) => setTimeout(r, 300));
  await proc.kill();
  for (let i = 0; i < 2; i++) void z.mutate(mutators.counter.bump({id: 'restart'})).server;
  mode = 'ok';
  proc = await node.startAndWaitStreaming();
  await eventually(async () => expect(await countIn('restart')).toBe(5), 30_000);
  await eventually(() => expect(view.data[0]?.n).toBe(5), 30_000);
  await new Promise((r) => setTimeout(r, 1500));
  expect(await countIn('restart')).toBe(5);
  view.destroy();
}, 90_000);
