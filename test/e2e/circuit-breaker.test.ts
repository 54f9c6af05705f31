import {afterAll, beforeAll, expect, test} from 'vitest';
import {
  ANYONE_CAN,
  createSchema,
  definePermissions,
  number,
  string,
  table,
  Zero,
} from '@rocicorp/zero';
import {eventually} from '../support/eventually.js';
import {startInProcessSync, type InProcessSync} from '../support/in-process-sync.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {startHarness, type ReplicationHarness} from '../replication/harness.js';

installWebSocketGlobal();

/**
 * A transaction far larger than a query's result makes advancing cost more than rehydrating: the
 * circuit breaker abandons the advancement, rehydrates at the head, and the client receives only
 * the diff against what it has — ending equal to Postgres.
 */
const big = table('big').columns({id: number(), v: string()}).primaryKey('id');
const schema = createSchema({tables: [big], enableLegacyQueries: true});

let h: ReplicationHarness;
let sync: InProcessSync;
const logLines: string[] = [];

beforeAll(async () => {
  h = await startHarness(`
    CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 30000) g;`);
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    big: {row: {select: ANYONE_CAN}},
  }));
  await h.db.sql`UPDATE zero.permissions SET permissions = ${h.db.sql.json(permissions as never)}`;
  sync = await startInProcessSync(h, {write: (l) => logLines.push(l)});
}, 120_000);

afterAll(async () => {
  await sync?.close();
  await h?.close();
});

test('a large transaction touching a hydrated query trips the breaker; the client ends correct', async () => {
  const z = new Zero({server: sync.url, userID: 'u', schema, kvStore: 'mem'});
  try {
    const view = z.query.big.orderBy('id', 'asc').limit(20).materialize();
    const expected = async () =>
      (await h.db.sql`SELECT v FROM big ORDER BY id LIMIT 20`).map((r) => r.v);
    await eventually(async () => expect(view.data.map((r) => r.v)).toEqual(await expected()));
    await h.db.sql`UPDATE big SET v = v || '!'`;
    await eventually(
      async () => expect(view.data.map((r) => r.v)).toEqual(await expected()),
      60_000,
    );
    expect(logLines.some((l) => /pipelines rehydrated \(circuit breaker/.test(l))).toBe(true);
    view.destroy();
  } finally {
    await z.close();
  }
}, 120_000);
