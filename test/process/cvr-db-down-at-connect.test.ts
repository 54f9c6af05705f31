import {
  ANYONE_CAN,
  createSchema,
  definePermissions,
  number,
  string,
  table,
  Zero,
} from '@rocicorp/zero';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {startOwnPostgres, type OwnPostgres} from '../support/own-postgres.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import type {ScratchDatabase} from '../support/scratch-database.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createZcacheNode, type ZcacheNode, type ZcacheProcess} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * Real 0.25.9 clients connecting while ZERO_CVR_DB is down (its own cluster, stopped; upstream
 * and the change log stay up) are refused with ServerOverloaded, back off, and are served once
 * the CVR database is back — none gives up. Before, zcache sent `connected` and then, a few
 * milliseconds later, the error; the client, still handling `connected` asynchronously, ended up
 * "connected" on a closed socket and stopped for good ("Unexpected internal error: Assertion
 * failed" ten seconds later).
 */
const note = table('note').columns({id: number(), body: string()}).primaryKey('id');
const schema = createSchema({tables: [note], enableLegacyQueries: true});

let cvrPg: OwnPostgres;
let cvr: ScratchDatabase;
let upstream: TestDatabase;
let node: ZcacheNode;
let proc: ZcacheProcess;
const clients: Zero<typeof schema>[] = [];

beforeAll(async () => {
  cvrPg = await startOwnPostgres();
  cvr = await cvrPg.createDatabase('cvr_down');
  upstream = await createTestDatabase('cvr_down_upstream');
  await upstream.sql.unsafe(`CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL);
    INSERT INTO note VALUES (1, 'one'), (2, 'two');`);
  node = await createZcacheNode({
    upstreamUrl: upstream.url,
    env: {ZERO_CVR_DB: cvr.url, ZERO_CHANGE_DB: upstream.url},
  });
  proc = await node.startAndWaitStreaming();
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    note: {row: {select: ANYONE_CAN}},
  }));
  await upstream.sql`UPDATE zero.permissions SET permissions = ${upstream.sql.json(permissions as never)}`;
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await node?.close();
  await cvrPg?.start().catch(() => {});
  await cvr?.drop().catch(() => {});
  await upstream?.drop();
  await cvrPg?.close();
});

function newClient(userID: string): Zero<typeof schema> {
  const z = new Zero({server: `http://127.0.0.1:${node.port}`, userID, schema, kvStore: 'mem'});
  clients.push(z);
  return z;
}

test('clients that connect while the CVR database is down are served once it is back', async () => {
  // A first client makes sure the sync worker is up (it needs the CVR database to start).
  const first = newClient('first').query.note.materialize();
  await eventually(() => expect(first.data.length).toBe(2), 30_000);
  await cvrPg.stop('fast');
  const states: string[][] = [];
  for (let i = 0; i < 3; i++) {
    const z = newClient(`u${i}`);
    states.push([]);
    z.connection.state.subscribe((st) => states[i]!.push(st.name));
  }
  const views = clients.slice(1).map((z) => z.query.note.orderBy('id', 'asc').materialize());
  // Each client is refused at least twice while the database is down.
  await eventually(
    () =>
      expect(
        proc.lines.filter((l) => /ZERO_CVR_DB unreachable/.test(l)).length,
        proc.describe(),
      ).toBeGreaterThanOrEqual(6),
    30_000,
  );
  await cvrPg.start();
  await upstream.sql`INSERT INTO note VALUES (3, 'three')`;
  for (const [i, v] of views.entries()) {
    await eventually(
      () =>
        expect(
          v.data.map((r) => r.id),
          `client ${i} (states ${states[i]})`,
        ).toEqual([1, 2, 3]),
      30_000,
    );
  }
  for (const [i, s] of states.entries())
    expect(
      s.filter((name) => name === 'error'),
      `client ${i} never stopped`,
    ).toEqual([]);
}, 120_000);

test('a sync worker starting while the CVR database is down waits for it, and zcache stays up', async () => {
  const cvr2 = await cvrPg.createDatabase('cvr_down_start');
  const upstream2 = await createTestDatabase('cvr_down_start_upstream');
  await upstream2.sql.unsafe(`CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL);
    INSERT INTO note VALUES (7, 'seven');`);
  const node2 = await createZcacheNode({
    upstreamUrl: upstream2.url,
    env: {ZERO_CVR_DB: cvr2.url, ZERO_CHANGE_DB: upstream2.url},
  });
  try {
    await cvrPg.stop('fast');
    const proc2 = node2.start();
    // Before: "sync worker 0 could not start its connection handler", and zcache exited 1.
    await proc2.waitForLine(/sync worker 0: ZERO_CVR_DB unreachable .*: retrying in/, {
      timeoutMs: 60_000,
    });
    await cvrPg.start();
    const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
      note: {row: {select: ANYONE_CAN}},
    }));
    await upstream2.sql`UPDATE zero.permissions SET permissions = ${upstream2.sql.json(permissions as never)}`;
    await proc2.waitForLine(/zcache ready/, {timeoutMs: 60_000});
    const z = new Zero({
      server: `http://127.0.0.1:${node2.port}`,
      userID: 'late',
      schema,
      kvStore: 'mem',
    });
    clients.push(z);
    const view = z.query.note.materialize();
    await eventually(() => expect(view.data.map((r) => r.id)).toEqual([7]), 30_000);
    expect(proc2.exit, proc2.describe()).toBeUndefined();
  } finally {
    await cvrPg.start();
    await node2.close();
    await upstream2.drop();
    await cvr2.drop().catch(() => {});
  }
}, 120_000);
