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
import {installWebSocketGlobal} from '../support/ws-global.js';
import {startInProcessSync, type InProcessSync} from '../support/in-process-sync.js';
import {startHarness, type ReplicationHarness} from '../replication/harness.js';

installWebSocketGlobal();

const issue = table('issue').columns({id: string(), title: string(), n: number()}).primaryKey('id');
const schema = createSchema({tables: [issue], enableLegacyQueries: true});

let h: ReplicationHarness;
let sync: InProcessSync;

beforeAll(async () => {
  h = await startHarness(`
    CREATE TABLE issue (id text PRIMARY KEY, title text NOT NULL, n int NOT NULL);
    INSERT INTO issue VALUES ('a', 'first', 1), ('b', 'second', 2), ('c', 'third', 3);
  `);
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    issue: {row: {select: ANYONE_CAN}},
  }));
  await h.db.sql`UPDATE zero.permissions SET permissions = ${h.db.sql.json(permissions as never)}`;
  sync = await startInProcessSync(h);
});
afterAll(async () => {
  await sync?.close();
  await h?.close();
});

test('the real client hydrates a query and sees upstream writes', async () => {
  const z = new Zero({server: sync.url, userID: 'u1', schema, kvStore: 'mem'});
  try {
    const view = z.query.issue.orderBy('n', 'desc').limit(2).materialize();
    await eventually(() => expect(view.data.map((r) => r.id)).toEqual(['c', 'b']), 20_000);
    await h.db.sql`INSERT INTO issue VALUES ('d', 'fourth', 4)`;
    await eventually(() => expect(view.data.map((r) => r.id)).toEqual(['d', 'c']), 20_000);
    view.destroy();
  } finally {
    await z.close();
  }
});
