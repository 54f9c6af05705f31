import {ANYONE_CAN, definePermissions, Zero} from '@rocicorp/zero';
import {afterAll, beforeAll, expect, test, vi} from 'vitest';
import type {AST} from '../../src/protocol/ast.js';
import {Rng} from '../server/hostile-query-generator.js';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {MidPokeCut} from '../support/mid-poke-cut.js';
import {createZcacheNode} from '../support/zcache-process.js';
import {startReferenceZeroCache} from '../../bench/reference-zero-cache.js';
import {FuzzReplica} from '../zql/fuzz-replica.js';
import type {TableData} from '../zql/fuzz-schema.js';
import {evaluateQuery, type ViewNode} from '../zql/sql-oracle.js';
import {
  ORACLE_SCHEMA,
  POSTGRES_DDL,
  randomQuery,
  schema,
  STATUSES,
  WORDS,
  type Schema,
} from './conformance-queries.js';

const midPokeCut = new MidPokeCut();
midPokeCut.install();

/**
 * Real-client conformance (issue 15): seeded random queries through the real Zero client in a few
 * client groups, then rounds of random upstream writes and client mutations; after each round
 * every view must equal an independent SQL evaluation (the differential fuzzer's oracle, over the
 * rows read back from Postgres). In each round one client loses its connection in the middle of a
 * poke and must catch up from the last cookie it applied. ZCACHE_CONFORMANCE_SEED replays a run; _ROUNDS and _QUERIES
 * lengthen it. ZCACHE_CONFORMANCE_SERVER=reference runs the same seed against the real zero-cache
 * 0.25.9 instead (installed on first use, as `npm run bench` does), to tell a zcache bug from one
 * of the client's.
 * The clients must log no errors. One query shape is left out: see `clientDefectShape`.
 */
const SEED = Number(process.env.ZCACHE_CONFORMANCE_SEED ?? 1515);
const ROUNDS = Number(process.env.ZCACHE_CONFORMANCE_ROUNDS ?? 4);
const QUERIES_PER_CLIENT = Number(process.env.ZCACHE_CONFORMANCE_QUERIES ?? 8);
const CLIENTS = 3;
const TABLES = ['issue', 'comment', 'label', 'issueLabel'] as const;

let db: TestDatabase;
let server: {url: string; close(): Promise<void>};
/**
 * What the clients logged at level error (the 0.25.9 client logs through `console.error`), but
 * for the close of a socket this test cut itself.
 */
const clientErrors: string[] = [];
const CUT_SOCKET_CLOSE = /Got unexpected socket close event \{"code":1006/;
const clients: Zero<Schema>[] = [];

beforeAll(async () => {
  const log = console.error.bind(console);
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    const text = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
    if (!CUT_SOCKET_CLOSE.test(text)) clientErrors.push(text);
    log(...args);
  });
  db = await createTestDatabase('e2e_conformance');
  await db.sql.unsafe(POSTGRES_DDL);
  server = await startServer(db.url);
  const all = {
    select: ANYONE_CAN,
    insert: ANYONE_CAN,
    update: {preMutation: ANYONE_CAN, postMutation: ANYONE_CAN},
    delete: ANYONE_CAN,
  };
  const permissions = await definePermissions<unknown, Schema>(schema, () => ({
    issue: {row: all},
    comment: {row: all},
    label: {row: all},
    issueLabel: {row: all},
  }));
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await server?.close();
  await db?.drop();
});

async function startServer(upstreamUrl: string): Promise<typeof server> {
  const env = {ZERO_NUM_SYNC_WORKERS: '1'};
  if (process.env.ZCACHE_CONFORMANCE_SERVER === 'reference') {
    const ref = await startReferenceZeroCache(upstreamUrl, env);
    return {url: ref.url, close: () => ref.stop()};
  }
  const node = await createZcacheNode({upstreamUrl, env});
  await node.startAndWaitStreaming();
  return {url: `http://127.0.0.1:${node.port}`, close: () => node.close()};
}

/** One random write, as SQL on upstream. */
async function upstreamWrite(r: Rng, n: number): Promise<void> {
  const issueID = `i${r.int(14)}`;
  switch (r.int(7)) {
    case 0:
      await db.sql`INSERT INTO issue VALUES (${`i${n}x`}, ${r.pick(WORDS) + ' ' + n},
        ${r.pick(STATUSES)}, ${r.int(5)}, ${r.chance(0.5) ? null : 'u1'}, ${r.int(40)})
        ON CONFLICT DO NOTHING`;
      return;
    case 1:
      await db.sql`UPDATE issue SET status = ${r.pick(STATUSES)}, priority = ${r.int(5)}
        WHERE id = ${issueID}`;
      return;
    case 2:
      await db.sql`DELETE FROM issue WHERE id = ${issueID}`;
      return;
    case 3:
      await db.sql`INSERT INTO comment VALUES (${`c${n}x`}, ${issueID}, ${r.pick(WORDS)},
        ${r.int(40)}) ON CONFLICT DO NOTHING`;
      return;
    case 4:
      await db.sql`DELETE FROM comment WHERE id = ${`c${r.int(30)}`}`;
      return;
    case 5:
      await db.sql`INSERT INTO "issueLabel" VALUES (${issueID}, ${`l${r.int(5)}`})
        ON CONFLICT DO NOTHING`;
      return;
    default:
      await db.sql`DELETE FROM "issueLabel" WHERE "issueID" = ${issueID}`;
  }
}

async function seed(r: Rng): Promise<void> {
  for (let i = 0; i < 12; i++)
    await db.sql`INSERT INTO issue VALUES (${`i${i}`}, ${`${r.pick(WORDS)} ${i}`},
      ${r.pick(STATUSES)}, ${r.int(5)}, ${r.chance(0.4) ? null : r.pick(['u1', 'u2'])}, ${r.int(40)})`;
  for (let i = 0; i < 30; i++)
    await db.sql`INSERT INTO comment VALUES (${`c${i}`}, ${`i${r.int(13)}`}, ${r.pick(WORDS)},
      ${r.int(40)})`;
  for (let i = 0; i < 5; i++) await db.sql`INSERT INTO label VALUES (${`l${i}`}, ${WORDS[i]!})`;
  for (let i = 0; i < 15; i++)
    await db.sql`INSERT INTO "issueLabel" VALUES (${`i${r.int(12)}`}, ${`l${r.int(5)}`})
      ON CONFLICT DO NOTHING`;
}

async function upstreamData(): Promise<TableData> {
  const data: TableData = {};
  for (const t of TABLES) data[t] = (await db.sql.unsafe(`SELECT * FROM "${t}"`)) as never;
  return data;
}

/** The oracle's view in the client's shape: junction levels flattened, relationships as arrays. */
function clientShape(nodes: ViewNode[], ast: AST): unknown[] {
  return nodes.map((n) => {
    const row: Record<string, unknown> = {...n.row};
    for (const rel of ast.related ?? []) {
      const alias = rel.subquery.alias!;
      const children = n.relationships[alias] ?? [];
      if (rel.hidden) {
        const inner = rel.subquery.related![0]!;
        row[alias] = children.flatMap((c) =>
          clientShape(c.relationships[inner.subquery.alias!] ?? [], inner.subquery),
        );
      } else row[alias] = clientShape(children, rel.subquery);
    }
    return row;
  });
}

function expectedViews(data: TableData, asts: AST[]): unknown[][] {
  const replica = new FuzzReplica(ORACLE_SCHEMA);
  try {
    replica.load(data);
    return asts.map((ast) => clientShape(evaluateQuery(replica.db, ORACLE_SCHEMA, ast).view, ast));
  } finally {
    replica.close();
  }
}

const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

/**
 * A query with `start` whose relationships reach back to its own table (issue → comments → parent
 * issue). The 0.25.9 client's view code mishandles it, the same way against zcache and against the
 * real zero-cache 0.25.9 (`ZCACHE_CONFORMANCE_SERVER=reference`; seed 1 with
 * ZCACHE_CONFORMANCE_CLIENT_DEFECT=1 fails on the same view either way): hydrated from one poke, its live view lacks related rows
 * the client's store holds (`parent: []`; a fresh materialization of the same query is right),
 * and a later change to such a missing row throws "node does not exist" in the client's view
 * code — from a poke, or from the client's own optimistic mutation with no server involved. From
 * then on every poke fails with "Expected head must match the main head": the client reconnects
 * in a loop, every view of it frozen until the page reloads. No answer of a server can mend that
 * client state, so the generator leaves this shape out unless ZCACHE_CONFORMANCE_CLIENT_DEFECT=1.
 */
function clientDefectShape(ast: AST): boolean {
  const reaches = (related: AST['related']): boolean =>
    (related ?? []).some((r) => r.subquery.table === ast.table || reaches(r.subquery.related));
  return ast.start !== undefined && reaches(ast.related);
}
const INCLUDE_CLIENT_DEFECT = process.env.ZCACHE_CONFORMANCE_CLIENT_DEFECT === '1';

test(`random queries through the real client equal SQL after each of ${ROUNDS} rounds of writes (seed ${SEED})`, async () => {
  console.log(`conformance: seed ${SEED} (ZCACHE_CONFORMANCE_SEED to replay)`);
  const r = new Rng(SEED);
  await seed(r);
  const startRows = (await db.sql`SELECT * FROM issue`) as unknown as Record<string, unknown>[];
  const views: {client: number; ast: AST; data: () => unknown; destroy: () => void}[] = [];
  for (let c = 0; c < CLIENTS; c++) {
    const z = new Zero({
      server: server.url,
      userID: `u${c}`,
      schema,
      kvStore: 'mem',
      storageKey: `conformance-${c}`,
    });
    clients.push(z);
    for (let i = 0; i < QUERIES_PER_CLIENT; i++) {
      let query = randomQuery(r, z, startRows);
      const astOf = (q: typeof query) => (q as unknown as {ast: AST}).ast;
      while (!INCLUDE_CLIENT_DEFECT && clientDefectShape(astOf(query)))
        query = randomQuery(r, z, startRows);
      const view = query.materialize();
      views.push({
        client: c,
        ast: astOf(query),
        data: () => view.data,
        destroy: () => view.destroy(),
      });
    }
  }
  let n = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    if (round > 0) {
      midPokeCut.arm(r.pick(clients).clientID);
      for (let w = 0; w < 6; w++) await upstreamWrite(r, n++);
      const z = r.pick(clients);
      await z.mutate.issue.update({id: `i${r.int(14)}`, priority: r.int(5)}).catch(() => {});
    }
    await eventually(async () => {
      const expected = expectedViews(
        await upstreamData(),
        views.map((v) => v.ast),
      );
      views.forEach((v, i) =>
        expect(
          plain(v.data()),
          `seed ${SEED}, round ${round}, client ${v.client}, query ${JSON.stringify(v.ast)}`,
        ).toEqual(expected[i]),
      );
    }, 30_000);
    expect(clientErrors, `seed ${SEED}, round ${round}: the clients logged no errors`).toEqual([]);
  }
  console.log(`conformance: ${midPokeCut.cuts} pokes cut mid-way`);
  if (ROUNDS > 1) expect(midPokeCut.cuts, 'pokes cut mid-way').toBeGreaterThan(0);
  for (const v of views) v.destroy();
}, 600_000);
