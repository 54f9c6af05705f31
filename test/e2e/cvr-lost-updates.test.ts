import {afterAll, beforeAll, expect, test} from 'vitest';
import {ANYONE_CAN, createSchema, definePermissions, string, table, Zero} from '@rocicorp/zero';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, type ZcacheNode, type ZcacheProcess} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * The CVR database forgets its latest updates (a crash with asynchronous commits, or a restore
 * from an older backup) while a client already holds the versions they recorded. On reconnect
 * the client is ahead of the CVR: zcache resets its view (a poke that clears and resends it)
 * instead of refusing it, so the client neither reloads nor loses the mutation it made offline,
 * and ends equal to upstream.
 */
const item = table('item').columns({id: string(), title: string()}).primaryKey('id');
const schema = createSchema({
  tables: [item],
  enableLegacyQueries: true,
  enableLegacyMutators: true,
});
const CVR_TABLES = ['instances', 'clients', 'queries', 'desires', 'rows', 'rowsVersion'];

let db: TestDatabase;
let node: ZcacheNode;
let proc: ZcacheProcess;
let z: Zero<typeof schema>;
const updateNeeded: unknown[] = [];

const titles = async () =>
  (await db.sql<{title: string}[]>`SELECT title FROM item ORDER BY id`).map((r) => r.title);

/** Copies the group's CVR rows aside (in a schema that is not replicated). */
async function snapshotCVR(group: string): Promise<void> {
  await db.sql.unsafe('CREATE SCHEMA snap');
  for (const t of CVR_TABLES) {
    await db.sql.unsafe(
      `CREATE TABLE snap."${t}" AS SELECT * FROM "zero_0/cvr"."${t}" WHERE "clientGroupID" = $1`,
      [group],
    );
  }
}

async function restoreCVR(group: string): Promise<void> {
  for (const t of [...CVR_TABLES].reverse()) {
    await db.sql.unsafe(`DELETE FROM "zero_0/cvr"."${t}" WHERE "clientGroupID" = $1`, [group]);
  }
  for (const t of CVR_TABLES) {
    await db.sql.unsafe(`INSERT INTO "zero_0/cvr"."${t}" SELECT * FROM snap."${t}"`);
  }
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_cvr_lost');
  await db.sql.unsafe(`
    CREATE TABLE item (id text PRIMARY KEY, title text NOT NULL);
    INSERT INTO item VALUES ('a', 'first'), ('b', 'second');`);
  node = await createZcacheNode({upstreamUrl: db.url, env: {ZERO_NUM_SYNC_WORKERS: '1'}});
  proc = await node.startAndWaitStreaming();
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    item: {
      row: {
        select: ANYONE_CAN,
        insert: ANYONE_CAN,
        update: {preMutation: ANYONE_CAN, postMutation: ANYONE_CAN},
        delete: ANYONE_CAN,
      },
    },
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
}, 120_000);

afterAll(async () => {
  await z?.close();
  await node?.close();
  await db?.drop();
});

test('a client ahead of a CVR that lost updates gets its view reset, keeping its offline mutation', async () => {
  z = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID: 'u',
    schema,
    kvStore: 'mem',
    onUpdateNeeded: (reason) => updateNeeded.push(reason),
  });
  const view = z.query.item.orderBy('id', 'asc').materialize();
  await eventually(() => expect(view.data.map((r) => r.title)).toEqual(['first', 'second']));
  const group = await z.clientGroupID;
  await eventually(async () =>
    expect(
      await db.sql`SELECT 1 FROM "zero_0/cvr".instances WHERE "clientGroupID" = ${group}`,
    ).toHaveLength(1),
  );
  await new Promise((r) => setTimeout(r, 300));
  await snapshotCVR(group); // the CVR as it will be "after the crash"

  // Later versions the client receives, which the CVR then forgets.
  await db.sql`INSERT INTO item VALUES ('c', 'third')`;
  await db.sql`UPDATE item SET title = 'second, edited' WHERE id = 'b'`;
  await eventually(() =>
    expect(view.data.map((r) => r.title)).toEqual(['first', 'second, edited', 'third']),
  );

  await proc.kill();
  await restoreCVR(group);
  // Meanwhile upstream moves on, and the client writes while offline.
  await db.sql`DELETE FROM item WHERE id = 'a'`;
  await z.mutate.item.insert({id: 'd', title: 'written offline'});
  proc = await node.startAndWaitStreaming();

  await eventually(
    async () => expect(await titles()).toEqual(['second, edited', 'third', 'written offline']),
    30_000,
  );
  await eventually(
    () =>
      expect(view.data.map((r) => r.title)).toEqual(['second, edited', 'third', 'written offline']),
    30_000,
  );
  expect(proc.lines.some((l) => /ahead of the CVR/.test(l))).toBe(true);
  expect(z.connection.state.current.name).toBe('connected');
  expect(updateNeeded).toEqual([]); // no reload
  view.destroy();
}, 90_000);

test('a row write-back that never finished: a returning client gets its view reset and ends equal', async () => {
  const z2 = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID: 'u2',
    schema,
    kvStore: 'mem',
    storageKey: 'second',
    onUpdateNeeded: (reason) => updateNeeded.push(reason),
  });
  try {
    const view = z2.query.item.orderBy('id', 'asc').materialize();
    await eventually(async () => expect(view.data.map((r) => r.title)).toEqual(await titles()));
    const group = await z2.clientGroupID;
    await db.sql`INSERT INTO item VALUES ('e', 'fifth')`;
    await eventually(() => expect(view.data.map((r) => r.id)).toContain('e'));
    await new Promise((r) => setTimeout(r, 300));
    await proc.kill();
    // As if the write-back of the group's row records was lost: they and rowsVersion lag.
    await db.sql`DELETE FROM "zero_0/cvr".rows WHERE "clientGroupID" = ${group}`;
    await db.sql`UPDATE "zero_0/cvr"."rowsVersion" SET "version" = '00' WHERE "clientGroupID" = ${group}`;
    await db.sql`UPDATE item SET title = 'fifth, edited' WHERE id = 'e'`;
    proc = await node.startAndWaitStreaming();
    await eventually(
      async () => expect(view.data.map((r) => r.title)).toEqual(await titles()),
      30_000,
    );
    expect(view.data.map((r) => r.title)).toContain('fifth, edited');
    expect(proc.lines.some((l) => /stop short of its version/.test(l))).toBe(true);
    expect(updateNeeded).toEqual([]);
    view.destroy();
  } finally {
    await z2.close();
  }
}, 90_000);
