import postgres from 'postgres';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {eventually} from '../../test/support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../../test/support/pg.js';
import {ensureCVRSchema} from './cvr-schema.js';
import {
  ClientGroupPurgedError,
  ConcurrentModificationError,
  CVRStore,
  OwnershipError,
  purgeInactive,
  type CVRUpdate,
} from './cvr-store.js';
import type {ClientSchema} from '../protocol/sync-up-queries.js';
import type {CVRInstance, DesireRecord, QueryRecord, RowRecord} from './cvr-types.js';
import {compareVersions, parseCookie, versionString} from './cvr-version.js';

const shard = {appID: 'zero', shardNum: 0};
const HOUR = 60 * 60 * 1000;
const CONNECT = Date.UTC(2025, 0, 1, 12, 0, 0, 123);

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('cvr_store');
  await ensureCVRSchema(db.sql, shard);
});
afterAll(async () => {
  await db.drop();
});

let groups = 0;
/** A client group no other test touches. */
const newGroupID = () => `cg${++groups}`;
const v = parseCookie;

function instance(clientGroupID: string, cookie: string, more: Partial<CVRInstance> = {}) {
  return {
    clientGroupID,
    version: v(cookie),
    lastActive: CONNECT,
    ttlClock: 1234.5,
    replicaVersion: '4e0000',
    clientSchema: null,
    profileID: 'p1',
    principal: null,
    queriesPurgedThrough: null,
    handedOutCeiling: null,
    lostRanges: [],
    owner: null,
    grantedAt: null,
    ...more,
  } satisfies CVRInstance;
}

function row(id: number, patch: string, refCounts: Record<string, number> | null = {q1: 1}) {
  return {
    table: 'issue',
    rowKey: {id: `i${id}`},
    rowVersion: `0${id % 10}`,
    patchVersion: v(patch),
    refCounts,
  } satisfies RowRecord;
}

/** A group stored at `cookie` by `taskID`, with client c1 and `rows`. */
async function storedGroup(taskID: string, cookie: string, rows: RowRecord[] = []) {
  const id = newGroupID();
  const store = new CVRStore(db.sql, shard, id, taskID);
  await store.load(CONNECT);
  await store.flush(null, {instance: instance(id, cookie), clients: {put: ['c1']}, rows}, CONNECT);
  return {id, store};
}

async function collect(rows: AsyncIterable<RowRecord[]>): Promise<RowRecord[][]> {
  const batches: RowRecord[][] = [];
  for await (const batch of rows) batches.push(batch);
  return batches;
}

const cookies = (rows: RowRecord[]) => rows.map((r) => versionString(r.patchVersion));

describe('CVRStore.load', () => {
  test('gives an empty CVR at version 00 for an unknown client group', async () => {
    const id = newGroupID();
    const before = Date.now();

    const cvr = await new CVRStore(db.sql, shard, id, 'task-a').load(CONNECT);

    expect(cvr.instance).toEqual({
      clientGroupID: id,
      version: {stateVersion: '00'},
      lastActive: expect.any(Number),
      ttlClock: 0,
      replicaVersion: null,
      clientSchema: null,
      profileID: null,
      principal: null,
      queriesPurgedThrough: null,
      handedOutCeiling: null,
      lostRanges: [],
      owner: null,
      grantedAt: null,
    });
    expect(cvr.instance.lastActive).toBeGreaterThanOrEqual(before);
    expect(cvr).toMatchObject({clients: new Set(), queries: new Map(), desires: new Map()});
  });

  test('reads back what a flush wrote: instance, clients, queries with tombstones, desires', async () => {
    const id = newGroupID();
    const store = new CVRStore(db.sql, shard, id, 'task-a');
    const clientSchema: ClientSchema = {
      tables: {issue: {columns: {id: {type: 'string'}}, primaryKey: ['id']}},
    };
    const written = instance(id, '4e672g:01', {clientSchema, owner: 'task-a', grantedAt: CONNECT});
    const queries: QueryRecord[] = [
      {
        queryHash: 'q1',
        kind: 'client',
        ast: {table: 'issue', where: {type: 'simple', left: {type: 'column', name: 'id'}, right: {type: 'literal', value: 'x'}, op: '='}, orderBy: [['id', 'asc']]}, // prettier-ignore
        name: null,
        args: null,
        patchVersion: v('4e672g'),
        transformationHash: 't1',
        deleted: false,
      },
      {queryHash: 'q2', kind: 'custom', ast: null, name: 'byID', args: [{id: 'x'}, true], patchVersion: null, transformationHash: null, deleted: false}, // prettier-ignore
      {queryHash: 'lmids', kind: 'internal', ast: {table: 'zero_0.clients'}, name: null, args: null, patchVersion: v('4e672g'), transformationHash: 't3', deleted: false}, // prettier-ignore
      {queryHash: 'q4', kind: 'client', ast: {table: 'issue'}, name: null, args: null, patchVersion: v('4e672g:01'), transformationHash: null, deleted: true}, // prettier-ignore
    ];
    const desires: DesireRecord[] = [
      {clientID: 'c1', queryHash: 'q1', patchVersion: v('4e672g'), deleted: false, ttlMs: 300000, inactivatedAtMs: null}, // prettier-ignore
      {clientID: 'c1', queryHash: 'q4', patchVersion: v('4e672g:01'), deleted: true, ttlMs: 0, inactivatedAtMs: 1000.25}, // prettier-ignore
      {clientID: 'c2', queryHash: 'q2', patchVersion: v('4e672g'), deleted: false, ttlMs: 600000, inactivatedAtMs: null}, // prettier-ignore
    ];
    await store.flush(
      null,
      {instance: written, clients: {put: ['c1', 'c2']}, queries, desires},
      CONNECT,
    );

    const cvr = await store.load(CONNECT);

    expect(cvr.instance).toEqual(written);
    expect(cvr.clients).toEqual(new Set(['c1', 'c2']));
    expect(cvr.queries).toEqual(new Map(queries.map((q) => [q.queryHash, q])));
    expect(JSON.stringify(cvr.queries.get('q1')!.ast)).toBe(JSON.stringify(queries[0]!.ast));
    expect(cvr.desires).toEqual(
      new Map([
        ['c1', new Map([['q1', desires[0]], ['q4', desires[1]]])], // prettier-ignore
        ['c2', new Map([['q2', desires[2]]])],
      ]),
    );
  });
});

test('CVRStore keeps the principal a group is pinned to across loads', async () => {
  const {id, store} = await storedGroup('task-a', '4e672g');
  const pinned = instance(id, '4e672h', {
    principal: 'jwt:abc',
    owner: 'task-a',
    grantedAt: CONNECT,
  });
  await store.flush(v('4e672g'), {instance: pinned}, CONNECT);

  const cvr = await new CVRStore(db.sql, shard, id, 'task-a').load(CONNECT);

  expect(cvr.instance.principal).toBe('jwt:abc');
});

test('CVRStore forgets purged queries with their desires, and keeps how far it purged', async () => {
  const {id, store} = await storedGroup('task-a', '4e672g');
  const q = (queryHash: string): QueryRecord => ({queryHash, kind: 'client', ast: {table: 'issue'}, name: null, args: null, patchVersion: v('4e672g'), transformationHash: null, deleted: true}); // prettier-ignore
  const d = (queryHash: string): DesireRecord => ({clientID: 'c1', queryHash, patchVersion: v('4e672g'), deleted: true, ttlMs: 0, inactivatedAtMs: 1}); // prettier-ignore
  const owned = {owner: 'task-a', grantedAt: CONNECT};
  await store.flush(
    v('4e672g'),
    {
      instance: instance(id, '4e672h', owned),
      queries: [q('old'), q('kept')],
      desires: [d('old'), d('kept')],
    },
    CONNECT,
  );
  const purged = instance(id, '4e672i', {...owned, queriesPurgedThrough: v('4e672g')});
  await store.flush(v('4e672h'), {instance: purged, purgedQueries: ['old']}, CONNECT);

  const cvr = await new CVRStore(db.sql, shard, id, 'task-a').load(CONNECT);

  expect([...cvr.queries.keys()]).toEqual(['kept']);
  expect([...cvr.desires.get('c1')!.keys()]).toEqual(['kept']);
  expect(cvr.instance.queriesPurgedThrough).toEqual(v('4e672g'));
});

describe('CVRStore.flush', () => {
  test('upserts: a later flush replaces records by key and removes deleted clients', async () => {
    const id = newGroupID();
    const store = new CVRStore(db.sql, shard, id, 'task-a');
    const query: QueryRecord = {queryHash: 'q1', kind: 'custom', ast: null, name: 'all', args: [], patchVersion: null, transformationHash: null, deleted: false}; // prettier-ignore
    await store.flush(
      null,
      {instance: instance(id, '4e672g'), clients: {put: ['c1', 'c2']}, queries: [query]},
      CONNECT,
    );

    const got = {...query, patchVersion: v('4e672h'), transformationHash: 't'};
    await store.flush(
      v('4e672g'),
      {instance: instance(id, '4e672h'), clients: {del: ['c1'], put: ['c3']}, queries: [got]},
      CONNECT,
    );

    const cvr = await store.load(CONNECT);
    expect(versionString(cvr.instance.version)).toBe('4e672h');
    expect(cvr.clients).toEqual(new Set(['c2', 'c3']));
    expect(cvr.queries).toEqual(new Map([['q1', got]]));
  });

  test('with a stale expected version fails with ConcurrentModificationError and writes nothing', async () => {
    const {id, store} = await storedGroup('task-a', '4e672g', [row(1, '4e672g')]);
    await store.flush(v('4e672g'), {instance: instance(id, '4e672h')}, CONNECT);

    const stale: CVRUpdate = {
      instance: instance(id, '4e672i'),
      clients: {put: ['c9']},
      rows: [row(1, '4e672i', null), row(2, '4e672i')],
    };
    await expect(store.flush(v('4e672g'), stale, CONNECT)).rejects.toThrow(
      ConcurrentModificationError,
    );

    const cvr = await store.load(CONNECT);
    expect(versionString(cvr.instance.version)).toBe('4e672h');
    expect(cvr.clients).toEqual(new Set(['c1']));
    expect(await store.allRows()).toEqual([row(1, '4e672g')]);
  });

  test('of a new CVR (expected null) fails with ConcurrentModificationError when one is stored', async () => {
    const {id} = await storedGroup('task-a', '4e672g');
    const other = new CVRStore(db.sql, shard, id, 'task-a');

    const flush = other.flush(null, {instance: instance(id, '4e672h')}, CONNECT);

    await expect(flush).rejects.toThrow(/expected version \(none: a new CVR\), found 4e672g/);
  });

  test('of two tasks creating the same new CVR at once, exactly one succeeds', async () => {
    const id = newGroupID();
    const flushBy = (task: string) =>
      new CVRStore(db.sql, shard, id, task).flush(
        null,
        {instance: instance(id, '4e672g')},
        CONNECT,
      );
    const blocked = async (n: number) => {
      const waiting = await db.sql`SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      expect(waiting).toHaveLength(n);
    };
    // Interleave deterministically: A inserts its instance and then waits for a lock we hold on
    // its rowsVersion row; B then finds no committed instance and tries to insert one too.
    const blockerPool = postgres(db.url, {max: 1, onnotice: () => {}});
    const blocker = await blockerPool.reserve();
    await blocker.unsafe('BEGIN');
    await blocker.unsafe(`INSERT INTO "zero_0/cvr"."rowsVersion" VALUES ($1, '00')`, [id]);
    const flushA = flushBy('task-a');
    flushA.catch(() => {}); // observed below; keeps an early rejection from counting as unhandled
    await eventually(() => blocked(1));
    const flushB = flushBy('task-b');
    flushB.catch(() => {});
    await eventually(() => blocked(2));
    await blocker.unsafe('ROLLBACK');
    blocker.release();
    await blockerPool.end();

    const outcomes = await Promise.allSettled([flushA, flushB]);

    expect(outcomes[0]).toEqual({status: 'fulfilled', value: undefined});
    expect(outcomes[1]).toMatchObject({status: 'rejected'});
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(
      ConcurrentModificationError,
    );
  });

  test('stores 10,000 rows in one flush and reads them all back', async () => {
    const rows = Array.from({length: 10_000}, (_, i) => row(i, i % 2 ? '4e672g' : '4e672g:01'));
    const {store} = await storedGroup('task-a', '4e672g:01', rows);

    const stored = await store.allRows();

    const byKey = (a: RowRecord, b: RowRecord) => String(a.rowKey.id).localeCompare(String(b.rowKey.id)); // prettier-ignore
    expect(stored.sort(byKey)).toEqual(rows.sort(byKey));
  });
});

describe('CVRStore rows', () => {
  test('round-trip row records, tombstones and multi-column keys included', async () => {
    const rows: RowRecord[] = [
      row(1, '4e672g'),
      row(2, '4e672g', null),
      {table: 'public.label', rowKey: {b: 2, a: 'x'}, rowVersion: '0a', patchVersion: v('4e672g'), refCounts: {q1: 2, q2: 1}}, // prettier-ignore
    ];
    const {store} = await storedGroup('task-a', '4e672g', rows);

    const stored = await store.allRows();

    expect(stored.sort((a, b) => a.table.localeCompare(b.table))).toEqual(
      [rows[2], rows[0], rows[1]].sort((a, b) => a!.table.localeCompare(b!.table)),
    );
  });

  test('a row listed twice in one flush, with its key columns in any order, is stored once: the last one', async () => {
    const first = {table: 'label', rowKey: {a: 1, b: 'x'}, rowVersion: '01', patchVersion: v('4e672g'), refCounts: {q1: 1}}; // prettier-ignore
    const last = {...first, rowKey: {b: 'x', a: 1}, rowVersion: '02', refCounts: {q2: 1}};
    const {store} = await storedGroup('task-a', '4e672g', [first, last]);

    const stored = await store.allRows();

    expect(stored).toEqual([last]);
  });

  test('catchupRows returns exactly the rows patched after the cookie, up to and including upTo', async () => {
    const patches = [
      '4e672f',
      '4e672g',
      '4e672g:01',
      '4e672g:0z',
      '4e672g:110',
      '4e672h',
      '5abcdef',
    ];
    const rows = patches.map((p, i) => row(i, p, i === 3 ? null : {q1: 1}));
    const {store} = await storedGroup('task-a', '5abcdef', rows);

    const caughtUp = (await collect(store.catchupRows('4e672g', v('4e672h')))).flat();

    const inOrder = caughtUp.sort((a, b) => compareVersions(a.patchVersion, b.patchVersion));
    expect(cookies(inOrder)).toEqual(['4e672g:01', '4e672g:0z', '4e672g:110', '4e672h']);
    expect(inOrder[1]).toEqual(rows[3]);
  });

  test('catchupRows from no cookie returns every row up to upTo', async () => {
    const rows = ['4e672f', '4e672g:01', '4e672h'].map((p, i) => row(i, p));
    const {store} = await storedGroup('task-a', '4e672h', rows);

    const caughtUp = (await collect(store.catchupRows(null, v('4e672g:01')))).flat();

    expect(cookies(caughtUp).sort()).toEqual(['4e672f', '4e672g:01']);
  });

  test('catchupRows delivers rows in batches of at most batchSize, each row once', async () => {
    const rows = Array.from({length: 25}, (_, i) => row(i, i < 12 ? '4e672g' : '4e672g:01'));
    const {store} = await storedGroup('task-a', '4e672g:01', rows);

    const batches = await collect(store.catchupRows('00', v('4e672g:01'), 10));

    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    const ids = batches.flat().map((r) => r.rowKey.id);
    expect(ids.sort()).toEqual(rows.map((r) => r.rowKey.id).sort());
  });

  test('catchupRows stopped early leaves its connection out of the read-only transaction', async () => {
    const onePool = postgres(db.url, {max: 1, onnotice: () => {}});
    try {
      const id = newGroupID();
      const store = new CVRStore(onePool, shard, id, 'task-a');
      const rows = Array.from({length: 30}, (_, i) => row(i, '4e672g'));
      await store.flush(null, {instance: instance(id, '4e672g'), rows}, CONNECT);

      for await (const batch of store.catchupRows(null, v('4e672g'), 10)) {
        expect(batch).toHaveLength(10);
        break;
      }

      const [setting] = await onePool`SHOW transaction_isolation`;
      expect(setting?.transaction_isolation).toBe('read committed');
      await store.flush(v('4e672g'), {instance: instance(id, '4e672h')}, CONNECT);
    } finally {
      await onePool.end();
    }
  });

  test('rowsForQueries returns the rows that any of the given queries references', async () => {
    const rows = [row(1, '4e672g', {q1: 1}), row(2, '4e672g', {q2: 1, q3: 1}), row(3, '4e672g', {q3: 2}), row(4, '4e672g', null)]; // prettier-ignore
    const {store} = await storedGroup('task-a', '4e672g', rows);

    const found = await store.rowsForQueries(['q1', 'q2']);

    expect(found.map((r) => r.rowKey.id).sort()).toEqual(['i1', 'i2']);
  });
});

describe('CVR ownership', () => {
  test('a load with a later connect takes ownership, and the previous owner cannot flush', async () => {
    const {id, store: storeA} = await storedGroup('task-a', '4e672g');
    const storeB = new CVRStore(db.sql, shard, id, 'task-b');

    const loadedByB = await storeB.load(CONNECT + 1000);

    expect(loadedByB.instance).toMatchObject({owner: 'task-b', grantedAt: CONNECT + 1000});
    const flushByA = storeA.flush(v('4e672g'), {instance: instance(id, '4e672h')}, CONNECT);
    await expect(flushByA).rejects.toThrow(OwnershipError);
    await storeB.flush(v('4e672g'), {instance: instance(id, '4e672h')}, CONNECT + 1000);
  });

  test('a load with a connect older than the owner grant fails with OwnershipError', async () => {
    const {id} = await storedGroup('task-a', '4e672g');
    await new CVRStore(db.sql, shard, id, 'task-b').load(CONNECT + 1000);

    const loadByA = new CVRStore(db.sql, shard, id, 'task-a').load(CONNECT);

    await expect(loadByA).rejects.toThrow(OwnershipError);
    await expect(loadByA).rejects.toMatchObject({owner: 'task-b', grantedAt: CONNECT + 1000});
  });
});

describe('CVR garbage collection', () => {
  test('purgeInactive tombstones groups inactive for too long, and loading one fails', async () => {
    const {id: oldID, store: old} = await storedGroup('task-a', '4e672g', [row(1, '4e672g')]);
    await old.flush(
      v('4e672g'),
      {instance: instance(oldID, '4e672g', {lastActive: Date.now() - 72 * HOUR})},
      CONNECT,
    );
    const {id: recentID} = await storedGroup('task-a', '4e672g');
    await db.sql.unsafe(`UPDATE "zero_0/cvr".instances SET "lastActive" = now()
      WHERE "clientGroupID" = $1`, [recentID]); // prettier-ignore

    const purged = await purgeInactive(db.sql, shard, 48 * HOUR, 1000);

    expect(purged).toBeGreaterThanOrEqual(1);
    await expect(old.load(CONNECT)).rejects.toThrow(ClientGroupPurgedError);
    expect(await old.allRows()).toEqual([]);
    const [tombstone] = await db.sql.unsafe(
      `SELECT "deleted", "version", "owner", "replicaVersion" FROM "zero_0/cvr".instances
        WHERE "clientGroupID" = $1`,
      [oldID],
    );
    expect(tombstone).toEqual({deleted: true, version: '00', owner: null, replicaVersion: null});
    const recent = await new CVRStore(db.sql, shard, recentID, 'task-a').load(CONNECT);
    expect(versionString(recent.instance.version)).toBe('4e672g');
  });

  test('a flush after the group was purged fails with ClientGroupPurgedError', async () => {
    const {id, store} = await storedGroup('task-a', '4e672g');
    await new CVRStore(db.sql, shard, id, 'task-a').deleteClientGroup();

    const flush = store.flush(v('4e672g'), {instance: instance(id, '4e672h')}, CONNECT);

    await expect(flush).rejects.toThrow(ClientGroupPurgedError);
  });

  test('deleteClientGroup removes the group records and leaves a tombstone', async () => {
    const {id, store} = await storedGroup('task-a', '4e672g', [row(1, '4e672g')]);

    await store.deleteClientGroup();

    expect(await store.allRows()).toEqual([]);
    await expect(store.load(CONNECT)).rejects.toThrow(ClientGroupPurgedError);
    const remaining = await db.sql.unsafe(
      `SELECT "clientGroupID" FROM "zero_0/cvr".clients WHERE "clientGroupID" = $1`,
      [id],
    );
    expect(remaining).toHaveLength(0);
  });
});

describe('row write-back', () => {
  const many = (n: number, patch: string) => Array.from({length: n}, (_, i) => row(i, patch));

  test('more than 100 row records are written after the flush; rowsVersion marks them', async () => {
    const {id, store} = await storedGroup('task-a', '01', many(150, '01'));
    const reader = new CVRStore(db.sql, shard, id, 'task-a');
    // The flush returned before its rows: they and rowsVersion follow.
    await eventually(async () => {
      expect(await reader.allRows()).toHaveLength(150);
      expect((await reader.load(CONNECT)).rowsComplete).toBe(true);
    });
    expect(await store.allRows()).toHaveLength(150); // the writer's own reads wait for them
  });

  test('a load while row records are still to be written reports them incomplete', async () => {
    const {id} = await storedGroup('task-a', '01', many(3, '01'));
    await db.sql.unsafe(
      `UPDATE "zero_0/cvr"."rowsVersion" SET "version" = '00' WHERE "clientGroupID" = $1`,
      [id],
    );
    const cvr = await new CVRStore(db.sql, shard, id, 'task-a').load(CONNECT);
    expect(cvr.rowsComplete).toBe(false);
  });

  test('a flush waits for the write-back before it, so rows never go back in time', async () => {
    const {id, store} = await storedGroup('task-a', '01', many(150, '01'));
    await store.flush(
      v('01'),
      {instance: instance(id, '02'), rows: [row(7, '02', {q1: 2})]},
      CONNECT,
    );
    const reader = new CVRStore(db.sql, shard, id, 'task-a');
    const rows = await reader.allRows();
    expect(rows).toHaveLength(150);
    expect(rows.find((r) => r.rowKey.id === 'i7')).toMatchObject({refCounts: {q1: 2}});
    expect((await reader.load(CONNECT)).rowsComplete).toBe(true);
  });
});
