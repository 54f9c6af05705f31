import {afterAll, beforeAll, expect, test} from 'vitest';
import {
  ANYONE_CAN,
  createSchema,
  definePermissions,
  NOBODY_CAN,
  number,
  string,
  table,
  Zero,
} from '@rocicorp/zero';
import {eventually} from '../support/eventually.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {createZcacheNode, type ZcacheNode, type ZcacheProcess} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * Client view records across reconnects and time: a client that reconnects with its cookie gets a
 * catch-up poke of only what changed; a query nobody desires any more expires after its TTL and
 * its rows leave the CVR; AST queries are filtered by deployed permissions.
 */
const item = table('item').columns({id: number(), v: string()}).primaryKey('id');
const secret = table('secret').columns({id: number(), v: string()}).primaryKey('id');
const schema = createSchema({tables: [item, secret], enableLegacyQueries: true});

let db: TestDatabase;
let node: ZcacheNode;
let proc: ZcacheProcess;
const clients: Zero<typeof schema>[] = [];

beforeAll(async () => {
  db = await createTestDatabase('e2e_cvr');
  await db.sql.unsafe(`
    CREATE TABLE item (id int PRIMARY KEY, v text NOT NULL);
    CREATE TABLE secret (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO item SELECT g, 'v' || g FROM generate_series(1, 200) g;
    INSERT INTO secret VALUES (1, 'hidden');`);
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {ZERO_NUM_SYNC_WORKERS: '1', ZERO_LOG_LEVEL: 'debug'},
  });
  proc = await node.startAndWaitStreaming();
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    item: {row: {select: ANYONE_CAN}},
    secret: {row: {select: NOBODY_CAN}},
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await node?.close();
  await db?.drop();
});

function client(userID: string): Zero<typeof schema> {
  const z = new Zero({server: `http://127.0.0.1:${node.port}`, userID, schema, kvStore: 'mem'});
  clients.push(z);
  return z;
}

async function itemsInPostgres(): Promise<string[]> {
  return (await db.sql`SELECT v FROM item ORDER BY id`).map((r) => r.v as string);
}

test('a client that reconnects with its cookie receives only what changed meanwhile', async () => {
  const z = client('reconnecting');
  const view = z.query.item.orderBy('id', 'asc').materialize();
  await eventually(async () => expect(view.data.map((r) => r.v)).toEqual(await itemsInPostgres()));

  proc.signal('SIGTERM');
  await proc.waitForExit();
  await db.sql`UPDATE item SET v = 'changed' WHERE id IN (3, 4)`;
  await db.sql`DELETE FROM item WHERE id = 5`;
  await db.sql`INSERT INTO item VALUES (201, 'new')`;
  proc = await node.startAndWaitStreaming();

  // The client reconnects on its own, after its backoff.
  await eventually(
    async () => expect(view.data.map((r) => r.v)).toEqual(await itemsInPostgres()),
    60_000,
  );
  const pokes = proc.lines.filter((l) => /poke .*: \S+ → \S+, \d+ rows/.test(l));
  const rowCounts = pokes.map((l) => Number(/, (\d+) rows/.exec(l)![1]));
  // Catch-up + advancement together carry the 4 changed rows, not the 200 the client already has.
  expect(rowCounts.length).toBeGreaterThan(0);
  expect(rowCounts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(8);
  view.destroy();
}, 90_000);

test('a query no client desires expires after its TTL and its rows are deleted from the client', async () => {
  const z = client('ttl');
  const view = z.query.item.where('id', 150).materialize(200);
  await eventually(() => expect(view.data.map((r) => r.id)).toEqual([150]));
  const before = proc.lines.length;
  view.destroy();
  // The poke that removes the query's row from the client (it is the client's only row).
  await eventually(() =>
    expect(proc.lines.slice(before).some((l) => /poke .*: \S+ → \S+, 1 rows/.test(l))).toBe(true),
  );
  await eventually(async () => {
    const rows = await db.sql.unsafe(
      `SELECT "refCounts" FROM "zero_0/cvr".rows WHERE "table" = 'item' AND "rowKey"::text LIKE '%150%'
         AND "clientGroupID" IN (SELECT "clientGroupID" FROM "zero_0/cvr".desires WHERE "ttlMs" = 200)`,
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.refCounts === null)).toBe(true);
  }, 20_000);
});

test('AST queries are filtered by deployed permissions', async () => {
  const z = client('permissions');
  const hidden = z.query.secret.materialize();
  const visible = z.query.item.where('id', 1).materialize();
  await eventually(() => expect(visible.data).toHaveLength(1));
  expect(hidden.data).toEqual([]);
  expect((await db.sql`SELECT count(*)::int AS n FROM secret`)[0]!.n).toBe(1);
});
