import {afterAll, beforeAll, expect, test} from 'vitest';
import {
  ANYONE_CAN,
  createSchema,
  definePermissions,
  string,
  table,
  Zero,
  type ExpressionBuilder,
} from '@rocicorp/zero';
import type {CRUDOp} from '../../src/protocol/sync-up-push.js';
import {openSyncClient, type SyncMessage} from '../server/sync-client.js';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {hs256Token, TEST_AUTH_SECRET} from '../support/tokens.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, type ZcacheNode, type ZcacheProcess} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * Legacy CRUD mutations (`z.mutate.<table>.insert/update/delete`, fact sheet §7.6) end to end with
 * the real client: zcache applies them upstream itself after checking the write permissions with
 * the verified token's claims; the client's optimistic writes are confirmed or rolled back by
 * replication; the per-group rate limit delays mutations without losing them; a zcache restart
 * loses and repeats none. A write of a row that does not exist reads, on the wire, exactly like a
 * denied one.
 */
const SECRET = TEST_AUTH_SECRET;
const RATE_MAX = 6;
const RATE_WINDOW_MS = 1500;
const item = table('item')
  .columns({id: string(), ownerID: string(), title: string()})
  .primaryKey('id');
const schema = createSchema({
  tables: [item],
  enableLegacyQueries: true,
  enableLegacyMutators: true,
});
type Auth = {sub: string};
const isOwner = (a: Auth, eb: ExpressionBuilder<'item', typeof schema>) => eb.cmp('ownerID', a.sub);

let db: TestDatabase;
let node: ZcacheNode;
let proc: ZcacheProcess;
const clients: Zero<typeof schema>[] = [];

async function client(
  userID: string,
  storageKey = `s${clients.length}`,
): Promise<Zero<typeof schema>> {
  const auth = await hs256Token(SECRET, userID);
  // Its own storage, so its own client group (clients sharing storage push each other's mutations).
  const z = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID,
    auth,
    schema,
    kvStore: 'mem',
    storageKey,
  });
  clients.push(z);
  return z;
}
const upstreamTitles = async (prefix: string) =>
  (
    await db.sql<{title: string}[]>`
    SELECT title FROM item WHERE id LIKE ${prefix + '%'} ORDER BY id`
  ).map((r) => r.title);
const lastMutationID = async (z: Zero<typeof schema>) => {
  const [row] = await db.sql<{lastMutationID: string}[]>`
    SELECT "lastMutationID" FROM zero_0.clients WHERE "clientID" = ${z.clientID}`;
  return Number(row?.lastMutationID ?? 0);
};

beforeAll(async () => {
  db = await createTestDatabase('e2e_crud');
  await db.sql.unsafe(`
    CREATE TABLE item (id text PRIMARY KEY, "ownerID" text NOT NULL,
                       title text NOT NULL CHECK (title <> 'forbidden'));`);
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '1',
      ZERO_AUTH_SECRET: SECRET,
      ZERO_PER_USER_MUTATION_LIMIT_MAX: String(RATE_MAX),
      ZERO_PER_USER_MUTATION_LIMIT_WINDOW_MS: String(RATE_WINDOW_MS),
    },
  });
  proc = await node.startAndWaitStreaming();
  const permissions = await definePermissions<Auth, typeof schema>(schema, () => ({
    item: {
      row: {
        select: ANYONE_CAN,
        insert: [isOwner],
        update: {preMutation: [isOwner], postMutation: [isOwner]},
        delete: [isOwner],
      },
    },
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await node?.close();
  await db?.drop();
});

test('an insert shows at once, reaches Postgres, and another user sees it', async () => {
  const ada = await client('ada');
  const grace = await client('grace');
  const mine = ada.query.item.where('id', 'LIKE', 'ins-%').materialize();
  const theirs = grace.query.item.where('id', 'LIKE', 'ins-%').materialize();
  await ada.mutate.item.insert({id: 'ins-1', ownerID: 'ada', title: 'first'});
  expect(mine.data.map((r) => r.title)).toEqual(['first']); // optimistic, before any round trip
  await eventually(async () => expect(await upstreamTitles('ins-')).toEqual(['first']));
  await eventually(() => expect(theirs.data.map((r) => r.title)).toEqual(['first']));
  await eventually(async () => expect(await lastMutationID(ada)).toBe(1));
  expect(mine.data.map((r) => r.title)).toEqual(['first']); // confirmed, not rolled back
  mine.destroy();
  theirs.destroy();
});

test("the owner's update and delete reach Postgres and the other user's view", async () => {
  const ada = await client('ada');
  const grace = await client('grace');
  const theirs = grace.query.item.where('id', 'LIKE', 'own-%').materialize();
  await ada.mutate.item.insert({id: 'own-1', ownerID: 'ada', title: 'draft'});
  await eventually(() => expect(theirs.data.map((r) => r.title)).toEqual(['draft']));
  await ada.mutate.item.update({id: 'own-1', title: 'final'});
  await eventually(() => expect(theirs.data.map((r) => r.title)).toEqual(['final']));
  await ada.mutate.item.delete({id: 'own-1'});
  await eventually(() => expect(theirs.data).toEqual([]));
  expect(await upstreamTitles('own-')).toEqual([]);
  theirs.destroy();
});

test('a write the permissions deny is rolled back on the client and never reaches Postgres', async () => {
  const ada = await client('ada');
  const view = ada.query.item.where('id', 'LIKE', 'deny-%').materialize();
  await ada.mutate.item.insert({id: 'deny-1', ownerID: 'grace', title: 'posing as grace'});
  expect(view.data).toHaveLength(1); // optimistic
  await eventually(async () => expect(await lastMutationID(ada)).toBe(1)); // confirmed…
  await eventually(() => expect(view.data).toEqual([])); // …as having done nothing
  expect(await upstreamTitles('deny-')).toEqual([]);
  view.destroy();
});

/**
 * A raw client of ada's in a client group of its own, connected with no queries; `pushOne` sends
 * one CRUD op as its mutation 1.
 */
async function adaProbe(clientGroupID: string) {
  const c = await openSyncClient(node.port, {
    clientGroupID,
    clientID: 'probe',
    token: await hs256Token(SECRET, 'ada'),
  });
  const columns = {id: {type: 'string'}, ownerID: {type: 'string'}, title: {type: 'string'}};
  const clientSchema = {tables: {item: {columns, primaryKey: ['id']}}};
  c.send(['initConnection', {desiredQueriesPatch: [], clientSchema}]);
  await c.waitFor((m) => m[0] === 'pokeEnd');
  const pushOne = (op: unknown) => {
    const mutation = {
      type: 'crud',
      id: 1,
      clientID: 'probe',
      name: '_zero_crud',
      args: [{ops: [op]}],
    };
    c.send([
      'push',
      {
        clientGroupID,
        mutations: [{...mutation, timestamp: 1}],
        pushVersion: 1,
        timestamp: 1,
        requestID: 'r',
      },
    ]);
  };
  return {c, pushOne};
}

let probes = 0;
/**
 * Every frame a fresh client group of ada's gets from pushing one CRUD op until its confirmation
 * has been poked, as text, with the parts that differ between any two groups (versions, times,
 * the group's id) blanked.
 */
async function framesAnsweringPush(op: CRUDOp): Promise<string> {
  const {c, pushOne} = await adaProbe(`probe-${probes++}`);
  const from = c.messages.length;
  pushOne(op);
  const confirmed = (m: SyncMessage) =>
    m[0] === 'pokePart' &&
    (m[1].lastMutationIDChanges as Record<string, number> | undefined)?.probe === 1;
  const part = await c.waitFor(confirmed);
  await c.waitFor((m) => m[0] === 'pokeEnd' && m[1].pokeID === part[1].pokeID);
  c.close();
  const varying = new Set(['pokeID', 'cookie', 'baseCookie', 'timestamp', 'clientGroupID']);
  return JSON.stringify(c.messages.slice(from), (k, v: unknown) => (varying.has(k) ? '…' : v));
}

test.each(['update', 'delete'] as const)(
  "a client's %s of a row that does not exist gets the very frames a denied one gets",
  async (kind) => {
    const gracesRow = `probe-${kind}-grace`;
    await db.sql`INSERT INTO item VALUES (${gracesRow}, 'grace', 'not ada''s')`;
    const value = (id: string) => (kind === 'update' ? {id, title: 'taken'} : {id});
    const op = (id: string) =>
      ({op: kind, tableName: 'item', primaryKey: ['id'], value: value(id)}) as CRUDOp;
    // Wait until the row has replicated, so the permissions see it and deny the write.
    const grace = await client('grace');
    const view = grace.query.item.where('id', gracesRow).materialize();
    await eventually(() => expect(view.data).toHaveLength(1));
    view.destroy();
    const denied = await framesAnsweringPush(op(gracesRow));
    const missing = await framesAnsweringPush(op(`probe-${kind}-nothing`));
    expect(denied).not.toContain('"error"');
    expect(missing).toBe(denied);
    expect(await upstreamTitles(`probe-${kind}-`)).toEqual(["not ada's"]);
  },
);

test('a write Postgres refuses is rolled back, and the client goes on writing', async () => {
  const ada = await client('ada');
  const view = ada.query.item.where('id', 'LIKE', 'chk-%').orderBy('id', 'asc').materialize();
  await ada.mutate.item.insert({id: 'chk-1', ownerID: 'ada', title: 'forbidden'});
  await eventually(async () => expect(await lastMutationID(ada)).toBe(1));
  await eventually(() => expect(view.data).toEqual([]));
  await ada.mutate.item.insert({id: 'chk-2', ownerID: 'ada', title: 'allowed'});
  await eventually(async () => expect(await upstreamTitles('chk-')).toEqual(['allowed']));
  await eventually(() => expect(view.data.map((r) => r.title)).toEqual(['allowed']));
  view.destroy();
});

test('over the rate limit mutations wait and are sent again: each applied once', async () => {
  const ada = await client('ada');
  const n = RATE_MAX + 4;
  for (let i = 0; i < n; i++) {
    void ada.mutate.item.insert({
      id: `rate-${String(i).padStart(2, '0')}`,
      ownerID: 'ada',
      title: `r${i}`,
    });
  }
  await eventually(async () => expect((await upstreamTitles('rate-')).length).toBe(RATE_MAX));
  await new Promise((r) => setTimeout(r, RATE_WINDOW_MS));
  // The rest were neither applied nor confirmed (re-sent ones do not use up the window).
  expect((await upstreamTitles('rate-')).length).toBe(RATE_MAX);
  expect(await lastMutationID(ada)).toBe(RATE_MAX);
  // The next mutation makes the client push everything still pending.
  await ada.mutate.item.insert({id: 'rate-99', ownerID: 'ada', title: 'last'});
  await eventually(async () => expect((await upstreamTitles('rate-')).length).toBe(n + 1), 20_000);
  expect(await lastMutationID(ada)).toBe(n + 1);
});

test('zcache restarting while CRUD mutations are in flight loses none and repeats none', async () => {
  const ada = await client('ada');
  const view = ada.query.item.where('id', 'LIKE', 'rst-%').materialize();
  await eventually(() => expect(ada.connection.state.current.name).toBe('connected'));
  for (let i = 0; i < 3; i++)
    await ada.mutate.item.insert({id: `rst-${i}`, ownerID: 'ada', title: `a${i}`});
  await proc.kill();
  for (let i = 3; i < 5; i++)
    await ada.mutate.item.insert({id: `rst-${i}`, ownerID: 'ada', title: `b${i}`});
  expect(view.data).toHaveLength(5); // all optimistic while zcache is down
  proc = await node.startAndWaitStreaming();
  await eventually(async () => expect((await upstreamTitles('rst-')).length).toBe(5), 30_000);
  await eventually(async () => expect(await lastMutationID(ada)).toBe(5), 30_000);
  expect(view.data).toHaveLength(5);
  view.destroy();
}, 90_000);

test('a client closed with mutations unsent: the next one on its storage sends them, each once', async () => {
  const first = await client('ada', 'reopened');
  await eventually(() => expect(first.connection.state.current.name).toBe('connected'));
  await proc.kill(); // nothing can be pushed now
  for (let i = 0; i < 4; i++)
    await first.mutate.item.insert({id: `reo-${i}`, ownerID: 'ada', title: `t${i}`});
  await new Promise((r) => setTimeout(r, 2000)); // the client persists its pending mutations
  await first.close();
  proc = await node.startAndWaitStreaming();
  const second = await client('ada', 'reopened');
  expect(await second.clientGroupID).toBe(await first.clientGroupID);
  const view = second.query.item.where('id', 'LIKE', 'reo-%').materialize();
  await eventually(async () =>
    expect(await upstreamTitles('reo-')).toEqual(['t0', 't1', 't2', 't3']),
  );
  await eventually(async () => expect(await lastMutationID(first)).toBe(4));
  await eventually(() => expect(view.data).toHaveLength(4));
  view.destroy();
}, 60_000);

test('with ZERO_ENABLE_CRUD_MUTATIONS=false a CRUD push is refused with InvalidPush and nothing is written', async () => {
  await proc.kill();
  proc = await node.startAndWaitStreaming({ZERO_ENABLE_CRUD_MUTATIONS: 'false'});
  const {c, pushOne} = await adaProbe('crud-disabled');
  pushOne({
    op: 'insert',
    tableName: 'item',
    primaryKey: ['id'],
    value: {id: 'off-1', ownerID: 'ada', title: 'x'},
  });
  const [, error] = await c.waitFor((m) => m[0] === 'error');
  expect(error).toMatchObject({
    kind: 'InvalidPush',
    message: expect.stringMatching(/CRUD mutations is disabled/),
  });
  await c.closed;
  expect(await upstreamTitles('off-')).toEqual([]);
});
