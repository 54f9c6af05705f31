import {afterAll, beforeAll, describe, expect, onTestFailed, test} from 'vitest';
import {ANYONE_CAN, createSchema, definePermissions, string, table, Zero} from '@rocicorp/zero';
import * as zero19 from 'zero-1.9';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {SyncSession} from '../support/sync-session.js';
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

/**
 * Once the group's CVR is stored and its flushes have settled, copies its rows aside (in a schema
 * of the group's own, which is not replicated): the CVR as it will be "after the crash".
 */
async function snapshotCVR(group: string): Promise<void> {
  await eventually(async () =>
    expect(
      await db.sql`SELECT 1 FROM "zero_0/cvr".instances WHERE "clientGroupID" = ${group}`,
    ).toHaveLength(1),
  );
  await new Promise((r) => setTimeout(r, 300));
  await db.sql.unsafe(`CREATE SCHEMA "snap_${group}"`);
  for (const t of CVR_TABLES) {
    await db.sql.unsafe(
      `CREATE TABLE "snap_${group}"."${t}" AS
         SELECT * FROM "zero_0/cvr"."${t}" WHERE "clientGroupID" = $1`,
      [group],
    );
  }
}

/** As if the write-back of the group's row records was lost: they and rowsVersion lag. */
async function loseRowWriteBack(group: string): Promise<void> {
  await db.sql`DELETE FROM "zero_0/cvr".rows WHERE "clientGroupID" = ${group}`;
  await db.sql`UPDATE "zero_0/cvr"."rowsVersion" SET "version" = '00' WHERE "clientGroupID" = ${group}`;
}

async function restoreCVR(group: string): Promise<void> {
  for (const t of [...CVR_TABLES].reverse()) {
    await db.sql.unsafe(`DELETE FROM "zero_0/cvr"."${t}" WHERE "clientGroupID" = $1`, [group]);
  }
  for (const t of CVR_TABLES) {
    await db.sql.unsafe(`INSERT INTO "zero_0/cvr"."${t}" SELECT * FROM "snap_${group}"."${t}"`);
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
  await snapshotCVR(group);

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
  expect(proc.lines.some((l) => /ahead of the CVR|a version the CVR may have lost/.test(l))).toBe(
    true,
  );
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
    await loseRowWriteBack(group);
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

test('two tabs at versions the CVR lost: the one behind the other is reset too, and both end equal', async () => {
  const group = 'two-tabs';
  const query = {op: 'put', hash: 'items', ast: {table: 'item', orderBy: [['id', 'asc']]}};
  const clientSchema = {
    tables: {item: {columns: {id: {type: 'string'}, title: {type: 'string'}}, primaryKey: ['id']}},
  };
  /** Each tab's rows, as a client keeps them: every poke's row ops applied in order. */
  const views = {a: new Map<string, unknown>(), b: new Map<string, unknown>()};
  const cookies = {a: '', b: ''};
  const tab = async (id: 'a' | 'b') => {
    const s = await SyncSession.open(node.port, {
      clientGroupID: group,
      clientID: id,
      ...(cookies[id] ? {baseCookie: cookies[id]} : {}),
    });
    s.send(['initConnection', {desiredQueriesPatch: cookies[id] ? [] : [query], clientSchema}]);
    const seen = {count: 0};
    type RowOp = {op: string; value?: {id: string}; id?: {id: string}};
    let pending: RowOp[] = [];
    // As the client does: a poke's row ops take effect at its pokeEnd, with its cookie.
    const follow = async () => {
      for (const m of s.messages.slice(seen.count)) {
        if (m[0] === 'pokeStart') pending = [];
        if (m[0] === 'pokePart') pending.push(...((m[1].rowsPatch as RowOp[] | undefined) ?? []));
        if (m[0] !== 'pokeEnd' || m[1].cancel) continue;
        cookies[id] = String(m[1].cookie);
        for (const r of pending) {
          if (r.op === 'clear') views[id].clear();
          else if (r.op === 'put') views[id].set(r.value!.id, r.value);
          else if (r.op === 'del') views[id].delete(r.id!.id);
        }
        pending = [];
      }
      seen.count = s.messages.length;
    };
    return {s, follow};
  };
  const idsOf = (id: 'a' | 'b') => [...views[id].keys()].sort();
  const upstreamIds = async () =>
    (await db.sql<{id: string}[]>`SELECT id FROM item ORDER BY id`).map((r) => r.id);
  const until = async (
    t: Awaited<ReturnType<typeof tab>>,
    id: 'a' | 'b',
    want: () => Promise<string[]>,
  ) =>
    eventually(async () => {
      await t.follow();
      expect(idsOf(id)).toEqual(await want());
    }, 30_000);

  let a = await tab('a');
  let b = await tab('b');
  await until(a, 'a', upstreamIds);
  await until(b, 'b', upstreamIds);
  await snapshotCVR(group);

  // Tab b receives a row, then leaves; tab a receives one more version, then leaves.
  await db.sql`INSERT INTO item VALUES ('x', 'lost with the CVR')`;
  await until(b, 'b', upstreamIds);
  b.s.close();
  await db.sql`INSERT INTO item VALUES ('y', 'seen by tab a only')`;
  await until(a, 'a', upstreamIds);
  a.s.close();

  await proc.kill();
  await restoreCVR(group);
  await db.sql`DELETE FROM item WHERE id = 'x'`;
  proc = await node.startAndWaitStreaming();

  // Tab a (furthest ahead) comes back first, then tab b, behind it.
  a = await tab('a');
  await until(a, 'a', upstreamIds);
  b = await tab('b');
  await until(b, 'b', upstreamIds);
  expect(views.b.has('x')).toBe(false);
  a.s.close();
  b.s.close();
}, 90_000);

test('a group stopped cleanly records that no version beyond its own was handed out', async () => {
  const group = 'clean-stop';
  const s = await SyncSession.open(node.port, {clientGroupID: group, clientID: 'c'});
  s.send([
    'initConnection',
    {
      desiredQueriesPatch: [{op: 'put', hash: 'items', ast: {table: 'item'}}],
      clientSchema: {
        tables: {
          item: {columns: {id: {type: 'string'}, title: {type: 'string'}}, primaryKey: ['id']},
        },
      },
    },
  ]);
  await s.next((m) => m[0] === 'pokeEnd', 20_000);
  const instance = async () => {
    const [row] = await db.sql<{version: string; ceiling: string}[]>`
      SELECT "version", "handedOutCeiling" AS ceiling FROM "zero_0/cvr".instances
       WHERE "clientGroupID" = ${group}`;
    return row!;
  };
  // While the group runs, its ceiling is above its version (versions may be handed out up to it).
  expect((await instance()).ceiling > (await instance()).version).toBe(true);
  s.close();
  await eventually(async () => {
    const {version, ceiling} = await instance();
    expect(ceiling).toBe(version);
  }, 30_000);
});

/**
 * The first two scenarios with the real 1.9.0 client (`zero-1.9`, sync protocol v51): its view
 * must be reset by the same clearing poke, without `onClientStateNotFound` (the 1.x client's
 * answer to a refused base cookie) or `onUpdateNeeded`, and keep its offline mutation.
 */
describe('the 1.9.0 client', () => {
  const schema19 = zero19.createSchema({
    tables: [
      zero19.table('item').columns({id: zero19.string(), title: zero19.string()}).primaryKey('id'),
    ],
    enableLegacyQueries: true,
    enableLegacyMutators: true,
  });
  const zql = zero19.createBuilder(schema19);
  type Zero19 = zero19.Zero<typeof schema19>;

  /**
   * A 1.9 client of a client group of its own (each its own userID: clients of one userID share
   * their 'mem' storage). What it logs, and every call of the handlers that would replace or
   * reload it, are recorded; a failing test prints them with zcache's last lines.
   */
  function client19(userID: string) {
    const logs: string[] = [];
    const reloads: string[] = [];
    const z = new zero19.Zero({
      cacheURL: `http://127.0.0.1:${node.port}`,
      userID,
      schema: schema19,
      kvStore: 'mem',
      onUpdateNeeded: (reason) => reloads.push(`onUpdateNeeded ${JSON.stringify(reason)}`),
      onClientStateNotFound: () => reloads.push('onClientStateNotFound'),
      logSink: {
        log(level, context, ...args) {
          const ctx = Object.entries(context ?? {}).map(([k, v]) => `${k}=${String(v)}`);
          const text = args.map((a) =>
            a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a),
          );
          logs.push(`${level} ${[...ctx, ...text].join(' ')}`);
        },
      },
    });
    onTestFailed(() => {
      console.log(`1.9 client ${userID} (${z.clientID}) logged:\n${logs.join('\n')}`);
      console.log(`handlers called: ${JSON.stringify(reloads)}`);
      console.log(proc.describe());
    });
    return {z, reloads, logs};
  }
  const titlesOf = (view: {readonly data: unknown}) =>
    (view.data as readonly {title: string}[]).map((r) => r.title);
  /** What the client logged about pokes: it logs an error when it drops a poke it cannot apply. */
  const pokeErrors = (logs: string[]) => logs.filter((l) => /poke/i.test(l));
  /** The last mutation id zcache recorded for the client (in the upstream clients table). */
  const lastMutationID = async (z: Zero19) => {
    const [row] = await db.sql<{id: number}[]>`
      SELECT "lastMutationID"::int AS id FROM zero_0.clients WHERE "clientID" = ${z.clientID}`;
    return row?.id;
  };

  beforeAll(async () => {
    // The same starting rows as the 0.25.9 client's scenario.
    await db.sql.begin(async (tx) => {
      await tx`DELETE FROM item`;
      await tx`INSERT INTO item VALUES ('a', 'first'), ('b', 'second')`;
    });
  });

  test('a 1.9 client ahead of a CVR that lost updates gets its view reset, keeping its offline mutation', async () => {
    const {z, reloads, logs} = client19('v1');
    try {
      const view = z.materialize(zql.item.orderBy('id', 'asc'));
      await eventually(() => expect(titlesOf(view)).toEqual(['first', 'second']));
      const group = await z.clientGroupID;
      await snapshotCVR(group);

      // Later versions the client receives, which the CVR then forgets.
      await db.sql`INSERT INTO item VALUES ('c', 'third')`;
      await db.sql`UPDATE item SET title = 'second, edited' WHERE id = 'b'`;
      await eventually(() => expect(titlesOf(view)).toEqual(['first', 'second, edited', 'third']));

      await proc.kill();
      await restoreCVR(group);
      // Meanwhile upstream moves on, and the client writes while offline.
      await db.sql`DELETE FROM item WHERE id = 'a'`;
      await z.mutate.item.insert({id: 'd', title: 'written offline'});
      proc = await node.startAndWaitStreaming();

      const want = ['second, edited', 'third', 'written offline'];
      await eventually(async () => expect(await titles()).toEqual(want), 30_000);
      await eventually(() => expect(titlesOf(view)).toEqual(want), 30_000);
      // zcache found the client at a version the CVR lost, and reset its view.
      expect(proc.lines.some((l) => l.includes(`client ${z.clientID} is at`))).toBe(true);
      expect(z.connection.state.current.name).toBe('connected');
      expect(reloads).toEqual([]);
      // Applied exactly once: one row, and the client's only mutation is the last one recorded.
      expect(await db.sql`SELECT 1 FROM item WHERE id = 'd'`).toHaveLength(1);
      await eventually(async () => expect(await lastMutationID(z)).toBe(1));
      // Still live after the reset: a later upstream write reaches the view.
      await db.sql`UPDATE item SET title = 'third, edited' WHERE id = 'c'`;
      await eventually(async () => expect(titlesOf(view)).toEqual(await titles()));
      expect(titlesOf(view)).toContain('third, edited');
      expect(z.connection.state.current.name).toBe('connected');
      expect(reloads).toEqual([]);
      expect(pokeErrors(logs)).toEqual([]);
      view.destroy();
    } finally {
      await z.close();
    }
  }, 90_000);

  test('a row write-back that never finished: a returning 1.9 client gets its view reset and ends equal', async () => {
    const {z, reloads, logs} = client19('v2');
    try {
      const view = z.materialize(zql.item.orderBy('id', 'asc'));
      await eventually(async () => expect(titlesOf(view)).toEqual(await titles()));
      const group = await z.clientGroupID;
      await db.sql`INSERT INTO item VALUES ('f', 'sixth')`;
      await eventually(() => expect(titlesOf(view)).toContain('sixth'));
      await new Promise((r) => setTimeout(r, 300));
      await proc.kill();
      await loseRowWriteBack(group);
      await db.sql`UPDATE item SET title = 'sixth, edited' WHERE id = 'f'`;
      proc = await node.startAndWaitStreaming();
      await eventually(async () => expect(titlesOf(view)).toEqual(await titles()), 30_000);
      expect(titlesOf(view)).toContain('sixth, edited');
      expect(
        proc.lines.some((l) => l.includes(`group ${group}: the CVR's row records stop short`)),
      ).toBe(true);
      expect(z.connection.state.current.name).toBe('connected');
      expect(reloads).toEqual([]);
      expect(pokeErrors(logs)).toEqual([]);
      view.destroy();
    } finally {
      await z.close();
    }
  }, 90_000);
});
