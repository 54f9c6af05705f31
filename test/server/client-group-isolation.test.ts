import {afterAll, afterEach, beforeAll, expect, test} from 'vitest';
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
