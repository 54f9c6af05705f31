import {afterAll, afterEach, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';
import {startPerUserApiServer, type PerUserApiServer} from './per-user-api-server.js';
import {
  openSyncClient,
  rowsPut,
  waitForGot,
  type SyncClient,
  type SyncClientOptions,
} from './sync-client.js';

/**
 * What one user can get of another's client group, over raw sockets, with unverified (opaque)
 * tokens and cookies forwarded to a per-user API server: transformed custom queries are not
 * shared between users, a client group admits only connections of the principal it belongs to,
 * and each push reaches the API server with the credentials of the connection that sent it.
 */
const SCHEMA = {
  tables: {
    item: {columns: {id: {type: 'number'}, owner: {type: 'string'}}, primaryKey: ['id']},
  },
};
const MY_ITEMS = {op: 'put', hash: 'my-items', name: 'myItems', args: []};
const allItems = (hash: string) => ({
  op: 'put',
  hash,
  ast: {table: 'item', orderBy: [['id', 'asc']]},
});

let db: TestDatabase;
let node: ZcacheNode;
let api: PerUserApiServer;
const open: SyncClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase('group_isolation');
  await db.sql`CREATE TABLE item (id int PRIMARY KEY, owner text NOT NULL)`;
  await db.sql`INSERT INTO item VALUES (1, 'alice'), (2, 'alice'), (3, 'bob')`;
  api = await startPerUserApiServer();
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '1',
      ZERO_QUERY_URL: `${api.url}/query`,
      ZERO_MUTATE_URL: `${api.url}/mutate`,
      ZERO_QUERY_FORWARD_COOKIES: 'true',
      ZERO_MUTATE_FORWARD_COOKIES: 'true',
    },
  });
  await node.startAndWaitStreaming(undefined, 60_000);
}, 120_000);

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await node?.close();
  await api?.close();
  await db?.drop();
});

async function connect(opts: SyncClientOptions): Promise<SyncClient> {
  const c = await openSyncClient(node.port, opts);
  open.push(c);
  return c;
}

function initConnection(c: SyncClient, queries: unknown[] = []): void {
  c.send(['initConnection', {desiredQueriesPatch: queries, clientSchema: SCHEMA}]);
}

function customPush(clientGroupID: string, clientID: string, id: number): unknown {
  const timestamp = Date.now();
  return [
    'push',
    {
      clientGroupID,
      mutations: [{type: 'custom', id, clientID, name: 'noop', args: [{}], timestamp}],
      pushVersion: 1,
      timestamp,
      requestID: `r${id}`,
    },
  ];
}

/** Sends a query after what was sent before, and waits for it: all before it was handled. */
async function handledSoFar(c: SyncClient, hash: string): Promise<void> {
  c.send(['changeDesiredQueries', {desiredQueriesPatch: [allItems(hash)]}]);
  await waitForGot(c, hash);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pushesOf = (clientGroupID: string) =>
  api.pushes.filter((p) => p.clientGroupID === clientGroupID);

test("a cookie-authenticated user asking for a custom query gets their own rows, not the previous asker's", async () => {
  const alice = await connect({clientGroupID: 'cq-alice', clientID: 'a', cookie: 'user=alice'});
  initConnection(alice, [MY_ITEMS]);
  await waitForGot(alice, MY_ITEMS.hash);
  const bob = await connect({clientGroupID: 'cq-bob', clientID: 'b', cookie: 'user=bob'});
  initConnection(bob, [MY_ITEMS]);
  await waitForGot(bob, MY_ITEMS.hash);

  expect(rowsPut(alice.messages, 'item').map((r) => r.id)).toEqual([1, 2]);
  expect(rowsPut(bob.messages, 'item').map((r) => r.id)).toEqual([3]);
});

test('pushes a client made over two connections with different tokens each reach the API server with their own token', async () => {
  const group = 'push-credentials';
  const first = await connect({clientGroupID: group, clientID: 'pc', token: 'token-alice-1'});
  initConnection(first);
  await first.waitFor((m) => m[0] === 'pokeEnd');
  const release = api.holdPushes();
  first.send(customPush(group, 'pc', 1));
  await eventually(() => expect(pushesOf(group)).toHaveLength(1));
  // While push 1 is in flight, pushes 2 (first token) and 3 (second token) queue up together.
  first.send(customPush(group, 'pc', 2));
  await handledSoFar(first, 'after-2');
  const second = await connect({clientGroupID: group, clientID: 'pc', token: 'token-alice-2'});
  initConnection(second);
  await second.waitFor((m) => m[0] === 'pokeEnd');
  second.send(customPush(group, 'pc', 3));
  await handledSoFar(second, 'after-3');
  release();

  await eventually(() => expect(pushesOf(group).flatMap((p) => p.mutationIDs)).toEqual([1, 2, 3]));
  const sentWith = pushesOf(group).flatMap((p) => p.mutationIDs.map((id) => [id, p.authorization]));
  expect(sentWith).toEqual([
    [1, 'Bearer token-alice-1'],
    [2, 'Bearer token-alice-1'],
    [3, 'Bearer token-alice-2'],
  ]);
});

test('a push sent before initConnection is dropped, not forwarded', async () => {
  const group = 'early-push';
  const c = await connect({clientGroupID: group, clientID: 'ep', token: 'token-alice'});
  c.send(customPush(group, 'ep', 1));
  initConnection(c, [allItems('after-init')]);
  await waitForGot(c, 'after-init');
  c.send(customPush(group, 'ep', 2));

  await eventually(() => expect(pushesOf(group).length).toBeGreaterThan(0));
  expect(pushesOf(group).flatMap((p) => p.mutationIDs)).toEqual([2]);
});

/** A client group whose first client, with `token` (or none), has synced all items. */
async function groupSyncedBy(clientGroupID: string, token?: string): Promise<SyncClient> {
  const owner = await connect({clientGroupID, clientID: 'owner', ...(token ? {token} : {})});
  initConnection(owner, [allItems('all-items')]);
  await waitForGot(owner, 'all-items');
  return owner;
}

/** The client's first answer, which must be a refusal: Unauthorized and nothing of the group. */
async function expectRefused(c: SyncClient): Promise<void> {
  const first = await c.waitFor((m) => m[0] === 'error' || m[0] === 'pokeEnd');
  expect(first).toEqual(['error', expect.objectContaining({kind: 'Unauthorized'})]);
  await c.closed;
  expect(c.messages.map((m) => m[0])).toEqual(['connected', 'error']);
}

test('a connection without a token is refused by a client group that has one, and gets no row', async () => {
  await groupSyncedBy('pin-token', 'token-alice');
  const intruder = await connect({clientGroupID: 'pin-token', clientID: 'intruder'});
  initConnection(intruder, [allItems('all-items')]);

  await expectRefused(intruder);
});

test('a connection with a token is refused by a client group that was created without one', async () => {
  await groupSyncedBy('pin-anonymous');
  const other = await connect({
    clientGroupID: 'pin-anonymous',
    clientID: 'other',
    token: 'token-bob',
  });
  initConnection(other, [allItems('all-items')]);

  await expectRefused(other);
});

test('a client group stays pinned after its view-syncer stopped: the pin is in the CVR', async () => {
  const owner = await groupSyncedBy('pin-durable', 'token-alice');
  owner.close();
  await sleep(6500); // the group's view-syncer stops 5 s after its last client left
  const intruder = await connect({clientGroupID: 'pin-durable', clientID: 'intruder'});
  initConnection(intruder, [allItems('all-items')]);

  await expectRefused(intruder);
}, 30_000);
