import {afterAll, beforeAll, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {erroredHashes, gotHashes, SyncSession, type SyncMessage} from '../support/sync-session.js';
import {hs256Token, TEST_AUTH_SECRET} from '../support/tokens.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';
import {hostileQuery, Rng} from './hostile-query-generator.js';

/**
 * The hostile-client property (issue 14): seeded random queries, sent over the real wire by alice,
 * who may read only her own `loan` rows, all of `profile`, and nothing of `secret`. Whatever she
 * asks, (1) no message she receives contains a marker value of a row hidden from her, (2) every
 * row she receives is one she may read, (3) every query is answered (got or refused), and
 * (4) bob, in another group, keeps getting his own changes while her queries run.
 *
 * ZCACHE_HOSTILE_SEED replays a run; ZCACHE_HOSTILE_CASES sets its length (a slice in CI; the
 * issue asks for ≥ 100,000 in a long run).
 */
const SEED = Number(process.env.ZCACHE_HOSTILE_SEED ?? 14_014);
const CASES = Number(process.env.ZCACHE_HOSTILE_CASES ?? 1500);
const BATCH = 50;
const MARKERS = ['HIDDEN-LOAN-NOTE', '987654321', 'HIDDEN-JSON', 'HIDDEN-SECRET', '424242'];
const SCHEMA = {
  tables: {
    loan: {
      columns: {
        id: {type: 'string'},
        userID: {type: 'string'},
        amount: {type: 'number'},
        note: {type: 'string'},
        meta: {type: 'json'},
        paid: {type: 'boolean'},
      },
      primaryKey: ['id'],
    },
    secret: {
      columns: {
        id: {type: 'string'},
        userID: {type: 'string'},
        code: {type: 'number'},
        note: {type: 'string'},
      },
      primaryKey: ['id'],
    },
    profile: {
      columns: {id: {type: 'string'}, name: {type: 'string'}, age: {type: 'number'}},
      primaryKey: ['id'],
    },
  },
};
const OWNER = {
  type: 'simple',
  op: '=',
  left: {type: 'column', name: 'userID'},
  right: {type: 'static', anchor: 'authData', field: 'sub'},
};
const EVERYONE = {type: 'and', conditions: []};

let db: TestDatabase;
let node: ZcacheNode;

beforeAll(async () => {
  db = await createTestDatabase('hostile_property');
  await db.sql.unsafe(`
    CREATE TABLE loan (id text PRIMARY KEY, "userID" text NOT NULL, amount int, note text,
                       meta jsonb, paid bool);
    CREATE TABLE secret (id text PRIMARY KEY, "userID" text, code int, note text);
    CREATE TABLE profile (id text PRIMARY KEY, name text, age int);
    INSERT INTO loan VALUES
      ('a1', 'alice', 100, '${'a'.repeat(3000)}', '{"k": 1}', false),
      ('a2', 'alice', -1, 'x', '"x"', true),
      ('b1', 'bob', 987654321, 'HIDDEN-LOAN-NOTE ${'a'.repeat(3000)}', '{"s": "HIDDEN-JSON"}', true),
      ('b2', 'bob', 0, '%', '[1, "HIDDEN-JSON"]', null);
    INSERT INTO secret VALUES ('s1', 'alice', 424242, 'HIDDEN-SECRET'), ('b1', 'bob', 0, 'a1');
    INSERT INTO profile VALUES ('a1', 'alice', 30), ('b1', 'bob', 40);`);
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {
      ZERO_NUM_SYNC_WORKERS: '1',
      ZERO_AUTH_SECRET: TEST_AUTH_SECRET,
      ZCACHE_MAX_QUERIES_PER_CLIENT_GROUP: String(BATCH * 2),
    },
  });
  await node.startAndWaitStreaming();
  const rules = {
    tables: {
      loan: {row: {select: [['allow', OWNER]]}},
      profile: {row: {select: [['allow', EVERYONE]]}},
    },
  };
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(rules as never)}`;
}, 120_000);

afterAll(async () => {
  await node?.close();
  await db?.drop();
});

async function connect(user: string, group: string, query: unknown): Promise<SyncSession> {
  const session = await SyncSession.open(node.port, {
    clientGroupID: group,
    clientID: `${group}-c`,
    authToken: await hs256Token(TEST_AUTH_SECRET, user),
  });
  const desiredQueriesPatch = query ? [{op: 'put', hash: 'own', ast: query}] : [];
  session.send(['initConnection', {desiredQueriesPatch, clientSchema: SCHEMA}]);
  await session.next((m) => m[0] === 'pokeEnd', 30_000);
  return session;
}

/** Rows alice may not read that appear in a message. */
function forbiddenRows(m: SyncMessage): unknown[] {
  if (m[0] !== 'pokePart') return [];
  const rows =
    (m[1].rowsPatch as {op: string; tableName: string; value?: {userID?: string}}[]) ?? [];
  return rows.filter(
    (r) =>
      r.op === 'put' &&
      (r.tableName === 'secret' || (r.tableName === 'loan' && r.value?.userID !== 'alice')),
  );
}

/** Sends one batch as one message and resolves when every query in it is got or refused. */
async function runBatch(alice: SyncSession, batch: {hash: string; ast: unknown}[]): Promise<void> {
  const pending = new Set(batch.map((q) => q.hash));
  const settled = alice.next((m) => {
    if (m[0] === 'error') return true;
    for (const h of [...gotHashes(m), ...erroredHashes(m)]) pending.delete(h);
    return pending.size === 0;
  }, 60_000);
  // ttl 0: a deleted query expires at once instead of counting against the group's limit.
  const desiredQueriesPatch = batch.map(({hash, ast}) => ({op: 'put', hash, ast, ttl: 0}));
  alice.send(['changeDesiredQueries', {desiredQueriesPatch}]);
  await settled.catch(() => {
    const last = JSON.stringify(alice.messages.slice(-3)).slice(0, 2000);
    const log = node.proc?.lines.slice(-30).join('\n');
    throw new Error(`queries never answered: ${[...pending].join(', ')}\n${last}\n${log}`);
  });
  const types = alice.messages.map((m) => m[0]);
  if (types.lastIndexOf('pokeStart') > types.lastIndexOf('pokeEnd'))
    await alice.next((m) => m[0] === 'pokeEnd', 30_000);
  const dels = batch.map(({hash}) => ({op: 'del', hash}));
  alice.send(['changeDesiredQueries', {desiredQueriesPatch: dels}]);
}

test(`${CASES} hostile queries (seed ${SEED}): no hidden value reaches alice, bob stays served`, async () => {
  console.log(
    `hostile-client property: seed ${SEED}, ${CASES} cases (ZCACHE_HOSTILE_SEED, _CASES)`,
  );
  const rng = new Rng(SEED);
  const alice = await connect('alice', 'hp-alice', null);
  const bob = await connect('bob', 'hp-bob', {table: 'loan'});
  let checked = 0;
  let [got, refused, rows] = [0, 0, 0];
  const reasons = new Map<string, number>();
  for (let b = 0; checked < CASES; b++) {
    const batch = Array.from({length: Math.min(BATCH, CASES - checked)}, (_, i) => ({
      hash: `q${b}-${i}`,
      ast: hostileQuery(rng),
    }));
    const from = alice.messages.length;
    const t0 = Date.now();
    // Bob's change is made while alice's batch runs; he must get it within the bound.
    const bobGets = bob.next((m) => JSON.stringify(m).includes(`"amount":${b + 1}`), 20_000);
    await Promise.all([
      runBatch(alice, batch),
      db.sql`UPDATE loan SET amount = ${b + 1} WHERE id = 'b2'`.then(() => bobGets),
    ]);
    const received = alice.messages.slice(from);
    got += received.flatMap(gotHashes).length;
    refused += received.flatMap(erroredHashes).length;
    for (const m of received)
      if (m[0] === 'transformError')
        for (const e of m[1] as unknown as {message: string}[])
          reasons.set(e.message.slice(0, 40), (reasons.get(e.message.slice(0, 40)) ?? 0) + 1);
    rows += received.filter((m) => m[0] === 'pokePart').flatMap((m) => m[1].rowsPatch ?? []).length;
    if (process.env.ZCACHE_HOSTILE_TIMING) console.log(`batch ${b}: ${Date.now() - t0} ms`);
    const text = JSON.stringify(received);
    for (const marker of MARKERS)
      expect(text.includes(marker), `seed ${SEED} batch ${b}: ${marker} reached alice`).toBe(false);
    expect(received.flatMap(forbiddenRows), `seed ${SEED} batch ${b}`).toEqual([]);
    expect(received.filter((m) => m[0] === 'error')).toEqual([]);
    checked += batch.length;
  }
  console.log(`hostile-client property: ${got} answered, ${refused} refused, ${rows} row patches`);
  if (process.env.ZCACHE_HOSTILE_TIMING) console.log(reasons);
  expect(alice.closed).toBe(false);
  alice.close();
  bob.close();
}, 3_600_000);
