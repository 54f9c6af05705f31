import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import WebSocket from 'ws';
import {
  createSchema,
  definePermissions,
  number,
  string,
  table,
  Zero,
  type ExpressionBuilder,
} from '@rocicorp/zero';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';
import {openSyncClient} from '../server/sync-client.js';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {hs256Token, TEST_AUTH_SECRET} from '../support/tokens.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * Tokens verified with ZERO_AUTH_SECRET (§2.13): a bad token is refused with AuthInvalidated and
 * close code 3000; a good one's payload feeds permission rules (each user sees only their rows).
 */
const SECRET = TEST_AUTH_SECRET;
const note = table('note')
  .columns({id: number(), ownerID: string(), text: string()})
  .primaryKey('id');
const schema = createSchema({tables: [note], enableLegacyQueries: true});

let db: TestDatabase;
let node: ZcacheNode;
const clients: Zero<typeof schema>[] = [];

function token(sub: string): Promise<string> {
  return hs256Token(SECRET, sub, {role: 'user'});
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_jwt');
  await db.sql.unsafe(`
    CREATE TABLE note (id int PRIMARY KEY, "ownerID" text NOT NULL, text text NOT NULL);
    INSERT INTO note VALUES (1, 'alice', 'a1'), (2, 'alice', 'a2'), (3, 'bob', 'b1');`);
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {ZERO_NUM_SYNC_WORKERS: '1', ZERO_AUTH_SECRET: SECRET},
  });
  await node.startAndWaitStreaming();
  const permissions = await definePermissions<{sub: string}, typeof schema>(schema, () => ({
    note: {
      row: {
        select: [
          (auth: {sub: string}, {cmp}: ExpressionBuilder<'note', typeof schema>) =>
            cmp('ownerID', auth.sub),
        ],
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

/** A raw client's initConnection for the `note` table with these desired queries. */
function initConnection(desiredQueriesPatch: unknown[]) {
  const columns = {id: {type: 'number'}, ownerID: {type: 'string'}, text: {type: 'string'}};
  const clientSchema = {tables: {note: {columns, primaryKey: ['id']}}};
  return ['initConnection', {desiredQueriesPatch, clientSchema}];
}
const NOTES = {op: 'put', hash: 'notes', ast: {table: 'note'}};

test('a token that fails verification gets AuthInvalidated and close code 3000', async () => {
  const q = 'clientID=c1&clientGroupID=g-jwt&userID=alice&ts=1&lmid=0';
  const protocol = encodeSecProtocols({authToken: 'not-a-jwt'});
  const outcome = await new Promise<{messages: unknown[]; code: number}>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/sync/v44/connect?${q}`, [protocol]);
    const messages: unknown[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    ws.on('close', (code) => resolve({messages, code}));
    ws.on('error', reject);
  });
  expect(outcome.messages).toEqual([['error', expect.objectContaining({kind: 'AuthInvalidated'})]]);
  expect(outcome.code).toBe(3000);
});

test("a verified token's claims drive permission rules: each user sees only their own rows", async () => {
  const alice = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID: 'alice',
    auth: await token('alice'),
    schema,
    kvStore: 'mem',
  });
  const bob = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID: 'bob',
    auth: await token('bob'),
    schema,
    kvStore: 'mem',
  });
  clients.push(alice, bob);
  const a = alice.query.note.orderBy('id', 'asc').materialize();
  const b = bob.query.note.orderBy('id', 'asc').materialize();
  await eventually(() => {
    expect(a.data.map((n) => n.text)).toEqual(['a1', 'a2']);
    expect(b.data.map((n) => n.text)).toEqual(['b1']);
  });
});

test('a verified token of another subject is refused by a client group, with a message that names no one', async () => {
  const init = initConnection([NOTES]);
  const group = 'g-alice-only';
  const alice = await openSyncClient(node.port, {
    clientGroupID: group,
    clientID: 'a',
    token: await token('alice'),
  });
  alice.send(init);
  await alice.waitFor((m) => m[0] === 'pokeEnd');
  const mallory = await openSyncClient(node.port, {
    clientGroupID: group,
    clientID: 'm',
    token: await token('mallory'),
  });
  mallory.send(init);

  const [, error] = await mallory.waitFor((m) => m[0] === 'error' || m[0] === 'pokeEnd');
  alice.close();
  expect(error).toMatchObject({kind: 'Unauthorized'});
  expect(JSON.stringify(error)).not.toMatch(/alice|mallory/);
  expect(mallory.messages.map((m) => m[0])).toEqual(['connected', 'error']);
});

describe('1.x connections (sync protocol v51)', () => {
  test("updateAuth: the group user's new token is taken; another user's token closes the connection with Unauthorized", async () => {
    const alice = await openSyncClient(node.port, {
      clientGroupID: 'g-update-auth',
      clientID: 'a',
      token: await token('alice'),
      version: 51,
    });
    alice.send(initConnection([NOTES]));
    await alice.waitFor((m) => m[0] === 'pokeEnd');
    alice.send(['updateAuth', {auth: await hs256Token(SECRET, 'alice', {role: 'user', n: 2})}]);
    // Still served: a new query is answered.
    alice.send([
      'changeDesiredQueries',
      {desiredQueriesPatch: [{op: 'put', hash: 'one', ast: {table: 'note', limit: 1}}]},
    ]);
    const pokeEnds = () => alice.messages.filter((m) => m[0] === 'pokeEnd').length;
    await alice.waitFor((m) => m[0] === 'pokeEnd' && pokeEnds() === 2);
    expect(alice.messages.filter((m) => m[0] === 'error')).toEqual([]);

    alice.send(['updateAuth', {auth: await token('mallory')}]);
    const [, error] = await alice.waitFor((m) => m[0] === 'error');
    expect(error).toMatchObject({kind: 'Unauthorized'});
    expect(JSON.stringify(error)).not.toMatch(/alice|mallory/);
    await alice.closed;
  });

  test('updateAuth with a token that fails verification gets AuthInvalidated', async () => {
    const alice = await openSyncClient(node.port, {
      clientGroupID: 'g-update-auth-bad',
      clientID: 'a',
      token: await token('alice'),
      version: 51,
    });
    alice.send(initConnection([NOTES]));
    await alice.waitFor((m) => m[0] === 'pokeEnd');
    alice.send(['updateAuth', {auth: await hs256Token(SECRET + 'x', 'alice')}]);
    const [, error] = await alice.waitFor((m) => m[0] === 'error');
    expect(error).toMatchObject({kind: 'AuthInvalidated'});
    await alice.closed;
  });

  test('a client that reconnects up to date gets an empty poke at its cookie (1.x marks queries complete only after one)', async () => {
    const first = await openSyncClient(node.port, {
      clientGroupID: 'g-empty-poke',
      clientID: 'a',
      token: await token('alice'),
      version: 51,
    });
    first.send(initConnection([NOTES]));
    const [, end] = await first.waitFor((m) => m[0] === 'pokeEnd');
    first.close();
    await first.closed;
    const cookie = String(end.cookie);
    const again = await openSyncClient(node.port, {
      clientGroupID: 'g-empty-poke',
      clientID: 'a',
      token: await token('alice'),
      version: 51,
      baseCookie: cookie,
    });
    again.send(initConnection([]));
    await again.waitFor((m) => m[0] === 'pokeEnd');
    again.close();
    expect(again.messages.map(([type, body]) => [type, body.baseCookie ?? body.cookie])).toEqual([
      ['connected', undefined],
      ['pokeStart', cookie],
      ['pokeEnd', cookie],
    ]);
  });
});
