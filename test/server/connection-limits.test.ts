import {afterAll, beforeAll, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {SyncSession} from '../support/sync-session.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

/**
 * A sync worker serves at most ZCACHE_MAX_CONNECTIONS_PER_SYNC_WORKER sockets: one more is refused
 * with ServerOverloaded (the client backs off and retries), and a place freed is taken again.
 */
const LIMIT = 5;
let db: TestDatabase;
let node: ZcacheNode;

beforeAll(async () => {
  db = await createTestDatabase('connection_limits');
  await db.sql`CREATE TABLE item (id int PRIMARY KEY)`;
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {ZERO_NUM_SYNC_WORKERS: '1', ZCACHE_MAX_CONNECTIONS_PER_SYNC_WORKER: String(LIMIT)},
  });
  await node.startAndWaitStreaming();
}, 90_000);

afterAll(async () => {
  await node?.close();
  await db?.drop();
});

async function connect(i: number): Promise<{session: SyncSession; refusal?: string}> {
  const session = await SyncSession.open(node.port, {clientGroupID: `g${i}`, clientID: `c${i}`});
  session.send([
    'initConnection',
    {
      desiredQueriesPatch: [],
      clientSchema: {tables: {item: {columns: {id: {type: 'number'}}, primaryKey: ['id']}}},
    },
  ]);
  const first = await session.first((m) => m[0] === 'pokeEnd' || m[0] === 'error', 20_000);
  return first[0] === 'error'
    ? {session, refusal: `${first[1].kind}: ${first[1].message}`}
    : {session};
}

test('the socket beyond the per-worker limit is refused with ServerOverloaded; a freed place is taken again', async () => {
  const admitted = [];
  for (let i = 0; i < LIMIT; i++) admitted.push(await connect(i));
  expect(admitted.map((a) => a.refusal)).toEqual(Array(LIMIT).fill(undefined));

  const extra = await connect(LIMIT);
  expect(extra.refusal).toMatch(/^ServerOverloaded: .*ZCACHE_MAX_CONNECTIONS_PER_SYNC_WORKER/);

  admitted[0]!.session.close();
  await new Promise((r) => setTimeout(r, 300));
  const again = await connect(LIMIT + 1);
  expect(again.refusal).toBeUndefined();
  for (const a of [...admitted, extra, again]) a.session.close();
});
