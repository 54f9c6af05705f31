import {afterAll, beforeAll, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {gotHashes, SyncSession, type SyncMessage} from '../support/sync-session.js';
import {hs256Token, TEST_AUTH_SECRET} from '../support/tokens.js';
import {
  createZcacheNode,
  upstreamPosition,
  waitForStateVersion,
  type ZcacheNode,
} from '../support/zcache-process.js';

/**
 * Queries written by an attacker who holds a valid token for alice and speaks the raw protocol:
 * `loan` rows may be read only by their owner (`userID = authData.sub`), and bob's row holds
 * values alice must never see — not in rows, not in error messages. Every query is answered on
 * its own (refused, or empty), and one client's query never stops another group being served.
 */
const BOB_AMOUNT = 250_000;
const BOB_NOTE = 'bob-private-note';
const BOB_BIG = 2n ** 60n;
const SCHEMA = {
  tables: {
    loan: {
      columns: {
        id: {type: 'string'},
        userID: {type: 'string'},
        amount: {type: 'number'},
        note: {type: 'string'},
        big: {type: 'number'},
      },
      primaryKey: ['id'],
    },
  },
};
const OWNER_RULE = {
  type: 'simple',
  op: '=',
  left: {type: 'column', name: 'userID'},
  right: {type: 'static', anchor: 'authData', field: 'sub'},
};

let db: TestDatabase;
let node: ZcacheNode;

beforeAll(async () => {
  db = await createTestDatabase('hostile_queries');
  await db.sql.unsafe(`
    CREATE TABLE loan (id text PRIMARY KEY, "userID" text NOT NULL, amount int, note text, big int8);
    INSERT INTO loan VALUES
      ('a1', 'alice', 100, '${'a'.repeat(3000)}', 1),
      ('b1', 'bob', ${BOB_AMOUNT}, '${BOB_NOTE}', 2);`);
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {ZERO_NUM_SYNC_WORKERS: '1', ZERO_AUTH_SECRET: TEST_AUTH_SECRET},
  });
  await node.startAndWaitStreaming();
  const rules = {tables: {loan: {row: {select: [['allow', OWNER_RULE]]}}}};
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(rules as never)}`;
}, 120_000);

afterAll(async () => {
  await node?.close();
  await db?.drop();
});

type Message = SyncMessage;
let groups = 0;

/** A raw client of alice's or bob's in a new client group, with one query (`q`) sent. */
async function open(user: string, ast: unknown): Promise<SyncSession> {
  const session = await SyncSession.open(node.port, {
    clientGroupID: `hq-${++groups}`,
    clientID: 'c',
    authToken: await hs256Token(TEST_AUTH_SECRET, user),
  });
  const put = {op: 'put', hash: 'q', ast};
  session.send(['initConnection', {desiredQueriesPatch: [put], clientSchema: SCHEMA}]);
  return session;
}

/**
 * Every message up to the first completed poke with the query, query error or connection error
 * (or `waitMs`).
 */
async function ask(user: string, ast: unknown, waitMs = 15_000): Promise<Message[]> {
  const session = await open(user, ast);
  await session
    .next(
      (m) =>
        m[0] === 'transformError' ||
        m[0] === 'error' ||
        (m[0] === 'pokeEnd' && gotQuery(session.messages)),
      waitMs,
    )
    .catch(() => {});
  session.close();
  return session.messages;
}

function gotQuery(messages: Message[]): boolean {
  return messages.some((m) => gotHashes(m).includes('q'));
}

const cmp = (column: string, op: string, value: unknown) => ({
  type: 'simple',
  op,
  left: {type: 'column', name: column},
  right: {type: 'literal', value},
});
const onBobsRow = (...conditions: unknown[]) => ({
  table: 'loan',
  where: {type: 'and', conditions: [cmp('id', '=', 'b1'), ...conditions]},
});

function expectNothingOfBob(messages: Message[]): void {
  const text = JSON.stringify(messages);
  expect(text).not.toContain(String(BOB_AMOUNT));
  expect(text).not.toContain(BOB_NOTE);
  expect(text).not.toContain(String(BOB_BIG));
}

const queryError = (messages: Message[]) =>
  messages.find((m) => m[0] === 'transformError')?.[1] as unknown as
    {message: string}[] | undefined;

test('a string compared with a hidden number is refused as a query error, with no value in it', async () => {
  const messages = await ask('alice', onBobsRow(cmp('amount', '<', 'x')));
  expectNothingOfBob(messages);
  expect(queryError(messages)?.[0]?.message).toMatch(/loan\.amount \(number\)/);
});

test('LIKE on a hidden number column is refused, with no value in it', async () => {
  const messages = await ask('alice', onBobsRow(cmp('amount', 'LIKE', 'x')));
  expectNothingOfBob(messages);
  expect(queryError(messages)?.[0]?.message).toMatch(/LIKE needs a string column/);
});

test('a start row of the wrong type beside a hidden row is refused, with no value in it', async () => {
  const ast = {
    ...onBobsRow(),
    orderBy: [['amount', 'asc']],
    start: {row: {id: 'b1', amount: 'x'}, exclusive: true},
  };
  const messages = await ask('alice', ast);
  expectNothingOfBob(messages);
  expect(queryError(messages)?.[0]?.message).toMatch(/start gives loan\.amount/);
});

test('a well-typed query for a hidden row answers with no rows', async () => {
  const messages = await ask('alice', onBobsRow(cmp('amount', '>', 0)));
  expectNothingOfBob(messages);
  expect(gotQuery(messages)).toBe(true);
  expect(queryError(messages)).toBeUndefined();
});

test('a hidden row changing to a value no client can hold neither reaches nor stops others', async () => {
  const alice = await open('alice', {table: 'loan'});
  await alice.next((m) => m[0] === 'pokeEnd' && gotQuery(alice.messages), 15_000);
  // Bob's row takes an int8 beyond 2^53; then alice's own row changes.
  await db.sql`UPDATE loan SET big = ${String(BOB_BIG)}::int8 WHERE id = 'b1'`;
  await db.sql`UPDATE loan SET amount = 101 WHERE id = 'a1'`;
  await alice.next((m) => m[0] === 'error' || JSON.stringify(m).includes('"amount":101'), 15_000);
  alice.close();
  expectNothingOfBob(alice.messages);
  expect(alice.messages.some((m) => m[0] === 'error')).toBe(false);
  // Restored before the next test asks for bob's row, which no client can hold until then.
  const at = await upstreamPosition(db.sql);
  await db.sql`UPDATE loan SET big = 2 WHERE id = 'b1'`;
  await waitForStateVersion(node.replicaFile, at);
});

test('a LIKE pattern that backtracks exponentially neither hangs nor stops other groups', async () => {
  const slow = ask('alice', {table: 'loan', where: cmp('note', 'LIKE', '%a%a%a%a%a%a%a%a%b')});
  // Sent while the pattern runs: another user's group is served all the same.
  const other = await ask('bob', {table: 'loan'});
  expect(gotQuery(other)).toBe(true);
  expect(JSON.stringify(other)).toContain(BOB_NOTE);
  const messages = await slow;
  expect(gotQuery(messages)).toBe(true);
});

test('a query with 20,000 related subqueries is refused before it is built', async () => {
  const related = Array.from({length: 20_000}, (_, i) => ({
    correlation: {parentField: ['id'], childField: ['id']},
    subquery: {table: 'loan', alias: `r${i}`},
  }));
  const messages = await ask('alice', {table: 'loan', related});
  expect(queryError(messages)?.[0]?.message).toMatch(/ZCACHE_MAX_AST_NODES/);
});

test('conditions nested 40 deep are refused before they are built', async () => {
  let where: unknown = cmp('id', '=', 'a1');
  for (let i = 0; i < 40; i++) where = {type: 'and', conditions: [where]};
  const messages = await ask('alice', {table: 'loan', where});
  expect(queryError(messages)?.[0]?.message).toMatch(/ZCACHE_MAX_AST_DEPTH/);
});

test('an IN list longer than the limit is refused', async () => {
  const ids = Array.from({length: 10_001}, (_, i) => `id${i}`);
  const messages = await ask('alice', {table: 'loan', where: cmp('id', 'IN', ids)});
  expect(queryError(messages)?.[0]?.message).toMatch(/ZCACHE_MAX_IN_LIST_LENGTH/);
});
