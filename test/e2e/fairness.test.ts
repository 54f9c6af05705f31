import {afterAll, beforeAll, expect, test} from 'vitest';
import WebSocket from 'ws';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';
import {longScanKeepingNothing} from '../support/long-scan-query.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

/**
 * One sync worker, many client groups: while one group hydrates a query that reads a large table
 * and keeps none of it (a second or more of work), the other groups' writes keep being poked —
 * the heavy hydration runs in time slices and gives way to them. Measured against the writer's
 * own progress, not the clock: most writes are poked before the writer's next-but-one write.
 * (The latencies themselves are a benchmark: `BENCH_ONLY=fairness npm run bench`.)
 */
const LIGHT_GROUPS = 20;
const HEAVY_ROWS = 200_000;
const SCHEMA = {
  tables: {
    cell: {columns: {id: {type: 'number'}, seq: {type: 'number'}}, primaryKey: ['id']},
    heavy: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']},
  },
};
const allowAll = {row: {select: [['allow', {type: 'and', conditions: []}]]}};

let db: TestDatabase;
let node: ZcacheNode;

beforeAll(async () => {
  db = await createTestDatabase('e2e_fair');
  await db.sql.unsafe(`
    CREATE TABLE cell (id int PRIMARY KEY, seq int NOT NULL);
    CREATE TABLE heavy (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO cell SELECT g, 0 FROM generate_series(1, ${LIGHT_GROUPS}) g;
    INSERT INTO heavy SELECT g, md5(g::text) FROM generate_series(1, ${HEAVY_ROWS}) g;`);
  node = await createZcacheNode({upstreamUrl: db.url, env: {ZERO_NUM_SYNC_WORKERS: '1'}});
  await node.startAndWaitStreaming(undefined, 90_000);
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json({tables: {cell: allowAll, heavy: allowAll}} as never)}`;
}, 120_000);

afterAll(async () => {
  await node?.close();
  await db?.drop();
});

type Message = [string, {rowsPatch?: {value?: {seq?: number}}[]}];

function connect(group: string, query: object, onMessage: (m: Message) => void): WebSocket {
  const init = [
    'initConnection',
    {desiredQueriesPatch: [{op: 'put', hash: 'q', ast: query}], clientSchema: SCHEMA},
  ];
  const q = `clientID=${group}-c&clientGroupID=${group}&ts=1&lmid=0`;
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/sync/v44/connect?${q}`, [
    encodeSecProtocols({initConnectionMessage: init as never}),
  ]);
  ws.on('message', (d) => onMessage(JSON.parse(String(d)) as Message));
  return ws;
}

const cellQuery = (id: number) => ({
  table: 'cell',
  where: {
    type: 'simple',
    op: '=',
    left: {type: 'column', name: 'id'},
    right: {type: 'literal', value: id},
  },
});
const matchesNothing = longScanKeepingNothing('heavy');

test("other groups' writes are poked while one group hydrates a long query", async () => {
  const seen: number[] = [];
  const sockets: WebSocket[] = [];
  await Promise.all(
    Array.from(
      {length: LIGHT_GROUPS},
      (_, i) =>
        new Promise<void>((resolve) => {
          sockets.push(
            connect(`light-${i + 1}`, cellQuery(i + 1), ([type, body]) => {
              if (type === 'pokeEnd') resolve();
              if (type === 'pokePart')
                for (const p of body.rowsPatch ?? []) if (p.value?.seq) seen.push(p.value.seq);
            }),
          );
        }),
    ),
  );
  let heavyDone = false;
  const heavy = new Promise<void>((resolve) => {
    sockets.push(
      connect('heavy', matchesNothing, ([type]) => {
        if (type !== 'pokeEnd') return;
        heavyDone = true;
        resolve();
      }),
    );
  });
  // A write counts as poked promptly when its poke arrived before the writer's next-but-one
  // write. A hydration that held the worker would leave every write until it ends unpoked.
  let seq = 0;
  let prompt = 0;
  while (!heavyDone) {
    seq++;
    if (seen.includes(seq - 2)) prompt++;
    await db.sql`UPDATE cell SET seq = ${seq} WHERE id = ${(seq % LIGHT_GROUPS) + 1}`;
    await new Promise((r) => setTimeout(r, 20));
  }
  await heavy;
  sockets.forEach((s) => s.close());
  expect(seq).toBeGreaterThan(20); // the heavy hydration really was long
  expect(prompt).toBeGreaterThanOrEqual(seq / 2);
}, 120_000);
