import {afterAll, beforeAll, expect, test} from 'vitest';
import WebSocket from 'ws';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

/**
 * /statz answers admins only: HTTP Basic auth with ZERO_ADMIN_PASSWORD (§9.1). It reports each
 * sync worker's client groups, clients and queries, which also shows a group's view-syncer
 * stopping a few seconds after its last client left. The inspector over the sync socket (§9.2)
 * takes the same password, and its login lasts only as long as the socket that made it.
 */
let db: TestDatabase;
let node: ZcacheNode;

beforeAll(async () => {
  db = await createTestDatabase('statz');
  await db.sql`CREATE TABLE item (id int PRIMARY KEY, v text)`;
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {NODE_ENV: 'production', ZERO_ADMIN_PASSWORD: 'sesame', ZERO_NUM_SYNC_WORKERS: '1'},
  });
  const proc = node.start();
  await proc.waitForLine(/zcache ready/, {timeoutMs: 60_000});
}, 90_000);

afterAll(async () => {
  await node?.close();
  await db?.drop();
});

const statz = (auth?: string) =>
  fetch(
    `http://127.0.0.1:${node.port}/statz`,
    auth ? {headers: {Authorization: `Basic ${Buffer.from(auth).toString('base64')}`}} : {},
  );

test('/statz without credentials or with a wrong password gets 401 and a Basic challenge', async () => {
  for (const res of [await statz(), await statz('admin:wrong')]) {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="Statz Protected Area"');
  }
});

test('/statz with the admin password reports the replica position and the processes', async () => {
  const res = await statz('anyone:sesame');
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    replica: {stateVersion: string | null; ready: boolean};
    processes: {syncWorkers: number[]};
  };
  expect(body.replica.ready).toBe(true);
  expect(body.replica.stateVersion).toMatch(/^[0-9a-z]+$/);
  expect(body.processes.syncWorkers).toHaveLength(1);
});

interface WorkerFigures {
  clientGroups?: number;
  clients?: number;
  queries?: number;
  memory?: {rssBytes: number};
}

const workerFigures = async (): Promise<WorkerFigures> => {
  const body = (await (await statz('anyone:sesame')).json()) as {syncWorkers: WorkerFigures[]};
  return body.syncWorkers[0]!;
};

test("/statz counts a worker's client groups, clients and queries; an idle group is stopped", async () => {
  const init = [
    'initConnection',
    {
      desiredQueriesPatch: [{op: 'put', hash: 'q', ast: {table: 'item', orderBy: [['id', 'asc']]}}],
      clientSchema: {
        tables: {item: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']}},
      },
    },
  ];
  const ws = new WebSocket(
    `ws://127.0.0.1:${node.port}/sync/v44/connect?clientID=c1&clientGroupID=g1&ts=1&lmid=0`,
    [encodeSecProtocols({initConnectionMessage: init as never})],
  );
  await new Promise<void>((resolve) =>
    ws.on('message', (d) => String(d).startsWith('["pokeEnd"') && resolve()),
  );
  await eventually(async () =>
    // The app's query and the group's two internal queries (last mutation IDs, mutation results).
    expect(await workerFigures()).toMatchObject({clientGroups: 1, clients: 1, queries: 3}),
  );
  expect((await workerFigures()).memory!.rssBytes).toBeGreaterThan(0);
  ws.close();
  await eventually(async () => expect(await workerFigures()).toMatchObject({clients: 0}));
  await eventually(
    async () => expect(await workerFigures()).toMatchObject({clientGroups: 0, queries: 0}),
    15_000,
  );
}, 30_000);

/** A sync socket of group `g-inspect` that sends inspector requests and awaits their answers. */
async function inspectorSocket(clientID: string) {
  const init = [
    'initConnection',
    {
      desiredQueriesPatch: [],
      clientSchema: {tables: {item: {columns: {id: {type: 'number'}}, primaryKey: ['id']}}},
    },
  ];
  const ws = new WebSocket(
    `ws://127.0.0.1:${node.port}/sync/v44/connect?clientID=${clientID}&clientGroupID=g-inspect&ts=1&lmid=0`,
    [encodeSecProtocols({initConnectionMessage: init as never})],
  );
  const answers = new Map<string, (body: unknown) => void>();
  let closed = false;
  ws.on('message', (d) => {
    const [tag, body] = JSON.parse(String(d)) as [string, {id?: string}];
    if (tag === 'inspect') answers.get(body.id!)?.(body);
  });
  ws.on('close', () => {
    closed = true;
    for (const answer of answers.values()) answer(new Error('the socket closed'));
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let next = 0;
  const ask = (req: Record<string, unknown>) => {
    const id = `${clientID}-${next++}`;
    return new Promise<unknown>((resolve) => {
      answers.set(id, resolve);
      if (closed) resolve(new Error('the socket closed'));
      ws.send(JSON.stringify(['inspect', {...req, id}]));
    });
  };
  return {ask, close: () => ws.close()};
}

test("an inspector login is the socket's own: other sockets and later sockets of the group must log in", async () => {
  const first = await inspectorSocket('i1');
  expect(await first.ask({op: 'authenticate', value: 'sesame'})).toMatchObject({value: true});
  expect(await first.ask({op: 'version'})).toMatchObject({op: 'version'});

  const second = await inspectorSocket('i2');
  expect(await second.ask({op: 'version'})).toMatchObject({op: 'authenticated', value: false});
  second.close();

  first.close();
  const later = await inspectorSocket('i1');
  expect(await later.ask({op: 'version'})).toMatchObject({op: 'authenticated', value: false});
  later.close();
}, 30_000);
