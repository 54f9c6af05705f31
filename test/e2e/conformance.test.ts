import * as zero025 from '@rocicorp/zero';
import * as zero19 from 'zero-1.9';
import {afterAll, beforeAll, describe, expect, test, vi} from 'vitest';
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
  conformanceSchema,
  ORACLE_SCHEMA,
  POSTGRES_DDL,
  randomQuery,
  STATUSES,
  WORDS,
  type QueryRoots,
  type Schema,
  type ZeroPackage,
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
 * Both client generations run the same scenario (same seed, same queries, writes and mutations):
 * ZCACHE_CONFORMANCE_CLIENT=1.9 runs it with the 1.9.0 client (`zero-1.9`), =0.25.9 with the
 * 0.25.9 one alone. Unset, the 0.25.9 client runs it as configured, and the 1.9.0 client a fixed
 * one (`FIXED_1X_RUN`), not against the reference (a 0.25.9 zero-cache serves no 1.x client).
 * The clients must log no errors. One query shape is left out: see `clientDefectShape`.
 */
const SEED = Number(process.env.ZCACHE_CONFORMANCE_SEED ?? 1515);
const ROUNDS = Number(process.env.ZCACHE_CONFORMANCE_ROUNDS ?? 4);
const QUERIES_PER_CLIENT = Number(process.env.ZCACHE_CONFORMANCE_QUERIES ?? 8);
const CLIENTS = 3;
const TABLES = ['issue', 'comment', 'label', 'issueLabel'] as const;
const REFERENCE_SERVER = process.env.ZCACHE_CONFORMANCE_SERVER === 'reference';
/** `console.error` before the spy (see `clientErrors`). */
const consoleError = console.error.bind(console);

/** What the scenario does with a client, the same for both generations. */
type ConformanceClient = {
  readonly clientID: string;
  /** The query builder's roots. */
  readonly zql: QueryRoots;
  materialize(query: unknown): {readonly data: unknown; destroy(): void};
  /** A CRUD update (the schema's enableLegacyMutators). */
  updateIssue(row: {id: string; priority: number}): Promise<unknown>;
  close(): Promise<void>;
};

type Generation = {
  readonly name: string;
  readonly zero: ZeroPackage;
  /** A client of a client group of its own; what it logs at level error goes to `onError`. */
  client(
    url: string,
    schema: Schema,
    n: number,
    onError: (text: string) => void,
  ): ConformanceClient;
};

const ZERO_025: Generation = {
  name: '0.25.9',
  zero: zero025,
  // It logs through `console.error`: see `clientErrors`.
  client(url, schema, n) {
    const z = new zero025.Zero({
      server: url,
      userID: `u${n}`,
      schema,
      kvStore: 'mem',
      storageKey: `conformance-${n}`,
    });
    return {
      clientID: z.clientID,
      zql: z.query,
      materialize: (query) => (query as zero025.Query<'issue', Schema>).materialize(),
      updateIssue: (row) => z.mutate.issue.update(row),
      close: () => z.close(),
    };
  },
};

const ZERO_19: Generation = {
  name: '1.9.0',
  zero: zero19,
  client(url, schema, n, onError) {
    const z = new zero19.Zero<Schema>({
      cacheURL: url,
      userID: `u${n}`,
      schema,
      kvStore: 'mem',
      storageKey: `conformance-${n}`,
      // Replaces the client's console sink (it logs nothing through `console` then).
      logSink: {
        log(level, context, ...args) {
          const text = [
            ...Object.entries(context ?? {}).map(([k, v]) => `${k}=${String(v)}`),
            ...args.map((a) =>
              a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a),
            ),
          ].join(' ');
          if (level === 'error') onError(text);
          if (level === 'error' || level === 'warn') consoleError(text);
        },
      },
    });
    return {
      clientID: z.clientID,
      zql: zero19.createBuilder(schema),
      materialize: (query) => z.materialize(query as zero19.Query<'issue', Schema>),
      updateIssue: (row) => z.mutate.issue.update(row),
      close: () => z.close(),
    };
  },
};

function generationNamed(name: string): Generation {
  if (name === '0.25' || name === '0.25.9') return ZERO_025;
  if (name === '1.9' || name === '1.9.0') {
    if (REFERENCE_SERVER)
      throw new Error('the reference zero-cache is 0.25.9: it serves no 1.9 client');
    return ZERO_19;
  }
  throw new Error(`ZCACHE_CONFORMANCE_CLIENT=${name}: 0.25.9 or 1.9`);
}

/** The 1.9.0 client's run in the normal suite (about 4 s more), whatever the environment says. */
const FIXED_1X_RUN = {generation: ZERO_19, seed: 1515, rounds: 4, queries: 8};
const CLIENT = process.env.ZCACHE_CONFORMANCE_CLIENT;
const RUNS = CLIENT
  ? [{generation: generationNamed(CLIENT), seed: SEED, rounds: ROUNDS, queries: QUERIES_PER_CLIENT}]
  : [
      {generation: ZERO_025, seed: SEED, rounds: ROUNDS, queries: QUERIES_PER_CLIENT},
      ...(REFERENCE_SERVER ? [] : [FIXED_1X_RUN]),
    ];

/**
 * What the clients logged at level error, but for the close of a socket this test cut itself
 * (the 0.25.9 client logs it as an error, the 1.9.0 one at level info): the 0.25.9 client logs
 * through `console.error`, spied on here; the 1.9.0 one through its `logSink`.
 */
const clientErrors: string[] = [];
const CUT_SOCKET_CLOSE = /Got unexpected socket close event \{"code":1006/;
function reportClientError(text: string): void {
  if (!CUT_SOCKET_CLOSE.test(text)) clientErrors.push(text);
}
beforeAll(() => {
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    reportClientError(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
    consoleError(...args);
  });
});

type Sql = TestDatabase['sql'];

async function startServer(upstreamUrl: string): Promise<{url: string; close(): Promise<void>}> {
  const env = {ZERO_NUM_SYNC_WORKERS: '1'};
  if (REFERENCE_SERVER) {
    const ref = await startReferenceZeroCache(upstreamUrl, env);
    return {url: ref.url, close: () => ref.stop()};
  }
  const node = await createZcacheNode({upstreamUrl, env});
  await node.startAndWaitStreaming();
  return {url: `http://127.0.0.1:${node.port}`, close: () => node.close()};
}

/** One random write, as SQL on upstream. */
async function upstreamWrite(sql: Sql, r: Rng, n: number): Promise<void> {
  const issueID = `i${r.int(14)}`;
  switch (r.int(7)) {
    case 0:
      await sql`INSERT INTO issue VALUES (${`i${n}x`}, ${r.pick(WORDS) + ' ' + n},
        ${r.pick(STATUSES)}, ${r.int(5)}, ${r.chance(0.5) ? null : 'u1'}, ${r.int(40)})
        ON CONFLICT DO NOTHING`;
      return;
    case 1:
      await sql`UPDATE issue SET status = ${r.pick(STATUSES)}, priority = ${r.int(5)}
        WHERE id = ${issueID}`;
      return;
    case 2:
      await sql`DELETE FROM issue WHERE id = ${issueID}`;
      return;
    case 3:
      await sql`INSERT INTO comment VALUES (${`c${n}x`}, ${issueID}, ${r.pick(WORDS)},
        ${r.int(40)}) ON CONFLICT DO NOTHING`;
      return;
    case 4:
      await sql`DELETE FROM comment WHERE id = ${`c${r.int(30)}`}`;
      return;
    case 5:
      await sql`INSERT INTO "issueLabel" VALUES (${issueID}, ${`l${r.int(5)}`})
        ON CONFLICT DO NOTHING`;
      return;
    default:
      await sql`DELETE FROM "issueLabel" WHERE "issueID" = ${issueID}`;
  }
}

async function seed(sql: Sql, r: Rng): Promise<void> {
  for (let i = 0; i < 12; i++)
    await sql`INSERT INTO issue VALUES (${`i${i}`}, ${`${r.pick(WORDS)} ${i}`},
      ${r.pick(STATUSES)}, ${r.int(5)}, ${r.chance(0.4) ? null : r.pick(['u1', 'u2'])}, ${r.int(40)})`;
  for (let i = 0; i < 30; i++)
    await sql`INSERT INTO comment VALUES (${`c${i}`}, ${`i${r.int(13)}`}, ${r.pick(WORDS)},
      ${r.int(40)})`;
  for (let i = 0; i < 5; i++) await sql`INSERT INTO label VALUES (${`l${i}`}, ${WORDS[i]!})`;
  for (let i = 0; i < 15; i++)
    await sql`INSERT INTO "issueLabel" VALUES (${`i${r.int(12)}`}, ${`l${r.int(5)}`})
      ON CONFLICT DO NOTHING`;
}

async function upstreamData(sql: Sql): Promise<TableData> {
  const data: TableData = {};
  for (const t of TABLES) data[t] = (await sql.unsafe(`SELECT * FROM "${t}"`)) as never;
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
 * in a loop, every view of it frozen until the page reloads. The 1.9.0 client has the same defect
 * (seeds 1, 2 and 4 fail on the same view with the same rows missing as with 0.25.9), and ends
 * in its connection state `error` ("Poke processing error: Error: node does not exist") instead
 * of the loop: it no longer reconnects, its views stay frozen, and each new materialization on it
 * throws "node does not exist". No answer of a server can mend that client state, so the generator
 * leaves this shape out unless ZCACHE_CONFORMANCE_CLIENT_DEFECT=1.
 */
function clientDefectShape(ast: AST): boolean {
  const reaches = (related: AST['related']): boolean =>
    (related ?? []).some((r) => r.subquery.table === ast.table || reaches(r.subquery.related));
  return ast.start !== undefined && reaches(ast.related);
}
const INCLUDE_CLIENT_DEFECT = process.env.ZCACHE_CONFORMANCE_CLIENT_DEFECT === '1';

for (const {generation, seed: runSeed, rounds, queries} of RUNS)
  describe(`the ${generation.name} client`, () => {
    let db: TestDatabase;
    let server: {url: string; close(): Promise<void>};
    const clients: ConformanceClient[] = [];
    const schema = conformanceSchema(generation.zero);

    beforeAll(async () => {
      db = await createTestDatabase('e2e_conformance');
      await db.sql.unsafe(POSTGRES_DDL);
      server = await startServer(db.url);
      const {ANYONE_CAN, definePermissions} = generation.zero as typeof zero025;
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

    test(`random queries through the real client equal SQL after each of ${rounds} rounds of writes (seed ${runSeed})`, async () => {
      console.log(
        `conformance: ${generation.name} client, seed ${runSeed} (ZCACHE_CONFORMANCE_SEED to replay)`,
      );
      clientErrors.length = 0;
      const cutsBefore = midPokeCut.cuts;
      const sql = db.sql;
      const r = new Rng(runSeed);
      await seed(sql, r);
      const startRows = (await sql`SELECT * FROM issue`) as unknown as Record<string, unknown>[];
      const views: {client: number; ast: AST; data: () => unknown; destroy: () => void}[] = [];
      for (let c = 0; c < CLIENTS; c++) {
        const z = generation.client(server.url, schema, c, reportClientError);
        clients.push(z);
        for (let i = 0; i < queries; i++) {
          let query = randomQuery(r, z.zql, startRows);
          const astOf = (q: typeof query) => (q as {ast: AST}).ast;
          while (!INCLUDE_CLIENT_DEFECT && clientDefectShape(astOf(query)))
            query = randomQuery(r, z.zql, startRows);
          const view = z.materialize(query);
          views.push({
            client: c,
            ast: astOf(query),
            data: () => view.data,
            destroy: () => view.destroy(),
          });
        }
      }
      let n = 0;
      for (let round = 0; round <= rounds; round++) {
        const where = `${generation.name} client, seed ${runSeed}, round ${round}`;
        if (round > 0) {
          midPokeCut.arm(r.pick(clients).clientID);
          for (let w = 0; w < 6; w++) await upstreamWrite(sql, r, n++);
          const z = r.pick(clients);
          await z.updateIssue({id: `i${r.int(14)}`, priority: r.int(5)}).catch(() => {});
        }
        await eventually(async () => {
          const expected = expectedViews(
            await upstreamData(sql),
            views.map((v) => v.ast),
          );
          views.forEach((v, i) =>
            expect(
              plain(v.data()),
              `${where}, client ${v.client}, query ${JSON.stringify(v.ast)}`,
            ).toEqual(expected[i]),
          );
        }, 30_000);
        expect(clientErrors, `${where}: the clients logged no errors`).toEqual([]);
      }
      // The client mutations were applied upstream (their errors are ignored above): one a round.
      await eventually(async () => {
        const [{applied}] = (await sql`
          SELECT coalesce(sum("lastMutationID"), 0)::int AS applied FROM zero_0.clients`) as [
          {applied: number},
        ];
        expect(applied, 'client mutations applied').toBe(rounds);
      });
      const cuts = midPokeCut.cuts - cutsBefore;
      console.log(`conformance: ${cuts} pokes cut mid-way`);
      if (rounds > 1) expect(cuts, 'pokes cut mid-way').toBeGreaterThan(0);
      for (const v of views) v.destroy();
    }, 600_000);
  });
