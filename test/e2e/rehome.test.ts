import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {startInProcessSync, type InProcessSync} from '../support/in-process-sync.js';
import {connectRawSync} from '../support/raw-sync-socket.js';
import {startHarness, type ReplicationHarness} from '../replication/harness.js';

/**
 * Two view-syncer instances (two tasks) sharing one CVR database: when a client group connects to
 * the second, it takes ownership; the first sends Rehome to its clients and stops writing the CVR.
 */
let h: ReplicationHarness;
let a: InProcessSync;
let b: InProcessSync;

beforeAll(async () => {
  h = await startHarness(
    `CREATE TABLE item (id int PRIMARY KEY, v text); INSERT INTO item VALUES (1, 'one');`,
  );
  await h.db
    .sql`UPDATE zero.permissions SET permissions = ${h.db.sql.json({tables: {item: {row: {select: [['allow', {type: 'and', conditions: []}]]}}}} as never)}`;
  a = await startInProcessSync(h);
  b = await startInProcessSync(h);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await h?.close();
});

const schema = {
  tables: {item: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']}},
};

function connect(server: InProcessSync, clientID: string, baseCookie = '', group = 'shared-group') {
  const desiredQueriesPatch = [
    {op: 'put', hash: 'q1', ast: {table: 'item', orderBy: [['id', 'asc']]}},
  ];
  return connectRawSync(
    server.url,
    {clientID, clientGroupID: group, baseCookie},
    {desiredQueriesPatch, ...(baseCookie ? {} : {clientSchema: schema})},
  );
}

test('the instance that lost the group sends Rehome and stops writing its CVR', async () => {
  const first = connect(a, 'c1');
  await eventually(() => expect(first.cookie()).toBeDefined());
  await new Promise((r) => setTimeout(r, 20)); // a later connect time for the second instance
  const second = connect(b, 'c2', first.cookie());
  await eventually(() => expect(second.cookie()).toBeDefined());

  await h.db.sql`UPDATE item SET v = 'changed' WHERE id = 1`;
  await eventually(() => {
    expect(first.messages.find((m) => m[0] === 'error')?.[1]).toMatchObject({
      kind: 'Rehome',
      maxBackoffMs: 0,
    });
    expect(first.closed()).toBe(true);
  });
  // The new owner keeps serving its client and owns the CVR.
  await eventually(() => expect(second.sawInPoke('changed')).toBe(true));
  const [row] = await h.db.sql.unsafe(
    `SELECT owner FROM "zero_0/cvr".instances WHERE "clientGroupID" = 'shared-group'`,
  );
  expect(row?.owner).toBe(b.taskID);
  second.ws.close();
});

test('a connection whose group another instance took after it connected gets Rehome, and its next connection is served', async () => {
  const first = connect(a, 'd1', '', 'taken-group');
  await eventually(() => expect(first.cookie()).toBeDefined());
  first.ws.close();
  // Another instance took the group, with a connection later than the next one made here (as
  // when a connection waited at a starting node and was handed over after the client's next).
  await h.db.sql.unsafe(
    `UPDATE "zero_0/cvr".instances SET owner = 'elsewhere', "grantedAt" = now() + interval '2 seconds'
      WHERE "clientGroupID" = 'taken-group'`,
  );
  const refused = connect(b, 'd1', first.cookie(), 'taken-group');
  await eventually(() => expect(refused.closed()).toBe(true));
  // Rehome makes the Zero client reconnect at once; Internal would stop it for good.
  expect(refused.messages.find((m) => m[0] === 'error')?.[1]).toMatchObject({kind: 'Rehome'});
  await new Promise((r) => setTimeout(r, 2100));
  // Now this instance's connection is the latest: it takes the group and serves it (a new
  // client of the group, so that it is poked its whole view).
  const served = connect(b, 'd2', '', 'taken-group');
  await eventually(() => expect(served.cookie()).toBeDefined());
  expect(served.messages.some((m) => m[0] === 'error')).toBe(false);
  served.ws.close();
});
