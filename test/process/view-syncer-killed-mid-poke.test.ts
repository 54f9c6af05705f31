import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {managerEnv, viewSyncerEnv} from '../support/multi-node-env.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {startS3Server, type TestS3Server} from '../support/s3-server.js';
import {SyncSession, type SyncMessage} from '../support/sync-session.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

/**
 * A view-syncer SIGKILLed while it is sending a poke — a large hydration, then an advancement in
 * a stream of large upstream transactions — with raw protocol clients attached. The kill lands
 * between a poke's first part and its end (checked), so the client holds a poke it must not apply;
 * it moves to the other view-syncer with its last complete cookie and must end equal to upstream.
 */
const SECRET = 'mid-poke secret';
const ROWS = 20_000;
const QUERY = {op: 'put', hash: 'all', ast: {table: 'item', orderBy: [['id', 'asc']]}};
const CLIENT_SCHEMA = {
  tables: {item: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']}},
};

let db: TestDatabase;
let s3: TestS3Server;
let manager: ZcacheNode;
const viewSyncers: ZcacheNode[] = [];

beforeAll(async () => {
  db = await createTestDatabase('mid_poke');
  await db.sql.unsafe(`
    CREATE TABLE item (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO item SELECT g, 'v' || g FROM generate_series(1, ${ROWS}) g;`);
  s3 = await startS3Server();
  const port = await freePort();
  manager = await createZcacheNode({
    upstreamUrl: db.url,
    env: managerEnv(s3, port, SECRET),
  });
  await manager.startAndWaitStreaming();
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json({
    tables: {item: {row: {select: [['allow', {type: 'and', conditions: []}]]}}},
  } as never)}`;
  for (let i = 0; i < 2; i++) {
    const node = await createZcacheNode({
      upstreamUrl: db.url,
      env: viewSyncerEnv(s3, port, SECRET),
    });
    viewSyncers.push(node);
    await node.start().waitForLine(/zcache ready/, {timeoutMs: 120_000});
  }
}, 240_000);

afterAll(async () => {
  for (const n of viewSyncers) await n.close();
  await manager?.close();
  await s3?.dispose();
  await db?.drop();
});

type RowOp = {op: string; value?: {id: number; v: string}; id?: {id: number}};

/** One client of a group as the real client keeps its rows: a poke takes effect at its end. */
class Tab {
  readonly rows = new Map<number, string>();
  cookie = '';
  session: SyncSession | undefined;
  #seen = 0;
  #pending: RowOp[] = [];

  constructor(
    readonly group: string,
    readonly id: string,
  ) {}

  async connect(port: number): Promise<void> {
    this.session?.close();
    this.#seen = 0;
    this.#pending = [];
    const s = await SyncSession.open(port, {
      clientGroupID: this.group,
      clientID: this.id,
      ...(this.cookie ? {baseCookie: this.cookie} : {}),
    });
    this.session = s;
    s.send(['initConnection', {desiredQueriesPatch: [QUERY], clientSchema: CLIENT_SCHEMA}]);
  }

  follow(): void {
    const messages = this.session!.messages;
    for (; this.#seen < messages.length; this.#seen++) {
      const [type, body] = messages[this.#seen]!;
      if (type === 'pokeStart') this.#pending = [];
      if (type === 'pokePart') this.#pending.push(...((body.rowsPatch as RowOp[]) ?? []));
      if (type !== 'pokeEnd' || body.cancel) continue;
      this.cookie = String(body.cookie);
      for (const r of this.#pending) {
        if (r.op === 'clear') this.rows.clear();
        else if (r.op === 'put') this.rows.set(r.value!.id, r.value!.v);
        else if (r.op === 'del') this.rows.delete(r.id!.id);
      }
      this.#pending = [];
    }
  }

  /** Resolves at a part with rows of a poke (after `from` messages) whose end has not come. */
  async midPoke(from: number): Promise<string> {
    const m = await this.session!.next(
      (x) => x[0] === 'pokePart' && ((x[1].rowsPatch as unknown[]) ?? []).length > 0,
      60_000,
    );
    expect(this.session!.messages.length).toBeGreaterThan(from);
    return String(m[1].pokeID);
  }

  async expectEqualsUpstream(): Promise<void> {
    await eventually(async () => {
      this.follow();
      const want = await db.sql<{id: number; v: string}[]>`SELECT id, v FROM item ORDER BY id`;
      expect([...this.rows].sort((a, b) => a[0] - b[0])).toEqual(want.map((r) => [r.id, r.v]));
    }, 90_000);
  }
}

const ended = (messages: SyncMessage[], pokeID: string) =>
  messages.some((m) => m[0] === 'pokeEnd' && m[1].pokeID === pokeID);

async function restart(node: ZcacheNode): Promise<void> {
  await node.start().waitForLine(/zcache ready/, {timeoutMs: 120_000});
}

test('a view-syncer SIGKILLed mid-hydration: the client moves to the other one and ends equal to upstream', async () => {
  const [a, b] = viewSyncers as [ZcacheNode, ZcacheNode];
  const tab = new Tab('hydrating', 'c1');
  await tab.connect(a.port);
  const pokeID = await tab.midPoke(0);
  await a.proc!.kill();
  expect(ended(tab.session!.messages, pokeID), 'the kill landed mid-poke').toBe(false);
  tab.follow();
  expect(tab.rows.size, 'a poke without its end is not applied').toBe(0);

  await db.sql`UPDATE item SET v = 'while moving' WHERE id <= 100`;
  await tab.connect(b.port);
  await tab.expectEqualsUpstream();
  tab.session!.close();
  await restart(a);
}, 240_000);

test('a view-syncer SIGKILLed mid-poke in a stream of large transactions: the client resumes from its last complete cookie on the other one and ends equal to upstream', async () => {
  const [a, b] = viewSyncers as [ZcacheNode, ZcacheNode];
  const tab = new Tab('streaming', 'c1');
  await tab.connect(b.port);
  await tab.expectEqualsUpstream();
  let round = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      round++;
      await db.sql`UPDATE item SET v = ${'round ' + round} WHERE id % 4 = ${round % 4}`;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const from = tab.session!.messages.length;
    await tab.session!.next((m) => m[0] === 'pokeStart', 60_000);
    const pokeID = await tab.midPoke(from);
    await b.proc!.kill();
    expect(ended(tab.session!.messages, pokeID), 'the kill landed mid-poke').toBe(false);
    tab.follow();
    const cookie = tab.cookie;
    await tab.connect(a.port);
    expect(tab.cookie).toBe(cookie);
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    writing = false;
    await writer;
  }
  await tab.expectEqualsUpstream();
  tab.session!.close();
  await restart(b);
}, 240_000);
