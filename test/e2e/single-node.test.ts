import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import WebSocket from 'ws';
import {
  ANYONE_CAN,
  boolean,
  createSchema,
  definePermissions,
  number,
  relationships,
  string,
  table,
  Zero,
} from '@rocicorp/zero';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';
import {eventually} from '../support/eventually.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {createZcacheNode, type ZcacheNode} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * zcache started as a user starts it (supervisor, replication child, sync workers), driven by the
 * real Zero client: every materialized result must equal the same query run in SQL on Postgres.
 */
const user = table('user').columns({id: string(), name: string()}).primaryKey('id');
const issue = table('issue')
  .columns({
    id: string(),
    title: string(),
    open: boolean(),
    modified: number(),
    creatorID: string(),
  })
  .primaryKey('id');
const comment = table('comment')
  .columns({id: string(), issueID: string(), body: string()})
  .primaryKey('id');
const label = table('label').columns({id: string(), name: string()}).primaryKey('id');
const issueLabel = table('issueLabel')
  .columns({issueID: string(), labelID: string()})
  .primaryKey('issueID', 'labelID');
const rels = [
  relationships(issue, ({one, many}) => ({
    creator: one({sourceField: ['creatorID'], destField: ['id'], destSchema: user}),
    comments: many({sourceField: ['id'], destField: ['issueID'], destSchema: comment}),
    labels: many(
      {sourceField: ['id'], destField: ['issueID'], destSchema: issueLabel},
      {sourceField: ['labelID'], destField: ['id'], destSchema: label},
    ),
  })),
];
const schema = createSchema({
  tables: [user, issue, comment, label, issueLabel],
  relationships: rels,
  enableLegacyQueries: true,
});

const SETUP = `
CREATE TABLE "user" (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE issue (id text PRIMARY KEY, title text NOT NULL, open bool NOT NULL, modified float8 NOT NULL, "creatorID" text NOT NULL);
CREATE TABLE comment (id text PRIMARY KEY, "issueID" text NOT NULL, body text NOT NULL);
CREATE TABLE label (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE "issueLabel" ("issueID" text, "labelID" text, PRIMARY KEY ("issueID", "labelID"));
INSERT INTO "user" SELECT 'u' || g, 'user ' || g FROM generate_series(1, 5) g;
INSERT INTO issue SELECT 'i' || lpad(g::text, 3, '0'), 'issue ' || g, g % 3 <> 0, g * 10, 'u' || (g % 5 + 1) FROM generate_series(1, 40) g;
INSERT INTO comment SELECT 'c' || g, 'i' || lpad((g % 40 + 1)::text, 3, '0'), 'comment ' || g FROM generate_series(1, 120) g;
INSERT INTO label VALUES ('l1', 'bug'), ('l2', 'feature');
INSERT INTO "issueLabel" SELECT 'i' || lpad(g::text, 3, '0'), CASE WHEN g % 4 = 0 THEN 'l1' ELSE 'l2' END FROM generate_series(1, 40) g;
`;

let db: TestDatabase;
let node: ZcacheNode;
let server: string;
const clients: Zero<typeof schema>[] = [];

function client(userID = 'u1'): Zero<typeof schema> {
  const z = new Zero({server, userID, schema, kvStore: 'mem'});
  clients.push(z);
  return z;
}

beforeAll(async () => {
  db = await createTestDatabase('e2e');
  await db.sql.unsafe(SETUP);
  const permissions = await definePermissions<unknown, typeof schema>(schema, () => ({
    user: {row: {select: ANYONE_CAN}},
    issue: {row: {select: ANYONE_CAN}},
    comment: {row: {select: ANYONE_CAN}},
    label: {row: {select: ANYONE_CAN}},
    issueLabel: {row: {select: ANYONE_CAN}},
  }));
  node = await createZcacheNode({upstreamUrl: db.url, env: {ZERO_NUM_SYNC_WORKERS: '2'}});
  await node.startAndWaitStreaming();
  // zcache creates zero.permissions on first start; deploying permissions replicates like any write.
  await db.sql`UPDATE zero.permissions SET permissions = ${db.sql.json(permissions as never)}`;
  server = `http://127.0.0.1:${node.port}`;
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await node?.close();
  await db?.drop();
});

async function openIssuesSQL(limit: number) {
  const issues =
    await db.sql`SELECT id FROM issue WHERE open ORDER BY modified DESC, id LIMIT ${limit}`;
  return issues.map((r) => r.id as string);
}

describe('queries match Postgres', () => {
  test('orderBy + limit with related comments (limited per issue) and the creator', async () => {
    const z = client();
    const view = z.query.issue
      .where('open', true)
      .orderBy('modified', 'desc')
      .limit(5)
      .related('comments', (q) => q.orderBy('id', 'asc').limit(2))
      .related('creator')
      .materialize();
    const expectedIds = await openIssuesSQL(5);
    await eventually(async () => {
      expect(view.data.map((i) => i.id)).toEqual(expectedIds);
      for (const i of view.data) {
        const comments =
          await db.sql`SELECT id FROM comment WHERE "issueID" = ${i.id} ORDER BY id LIMIT 2`;
        expect(i.comments.map((c) => c.id)).toEqual(comments.map((c) => c.id));
        expect(i.creator?.id).toBe(i.creatorID);
      }
    });
    view.destroy();
  });

  test('whereExists through a junction table, and related labels through it', async () => {
    const z = client();
    const view = z.query.issue
      .whereExists('labels', (q) => q.where('name', 'bug'))
      .related('labels')
      .orderBy('id', 'asc')
      .materialize();
    const rows =
      await db.sql`SELECT i.id FROM issue i WHERE EXISTS (SELECT 1 FROM "issueLabel" il JOIN label l ON l.id = il."labelID" WHERE il."issueID" = i.id AND l.name = 'bug') ORDER BY id`;
    await eventually(() => {
      expect(view.data.map((i) => i.id)).toEqual(rows.map((r) => r.id));
      expect(view.data.every((i) => i.labels.some((l) => l.name === 'bug'))).toBe(true);
    });
    view.destroy();
  });

  test('start after a row, and one()', async () => {
    const z = client();
    const after = z.query.issue.orderBy('id', 'asc').start({id: 'i010'}).limit(3).materialize();
    const one = z.query.issue.where('id', 'i007').one().materialize();
    await eventually(() => {
      expect(after.data.map((i) => i.id)).toEqual(['i011', 'i012', 'i013']);
      expect(one.data?.title).toBe('issue 7');
    });
    after.destroy();
    one.destroy();
  });
});

test('inserts, updates, deletes and a primary-key change reach two client groups', async () => {
  const a = client('ua');
  const b = client('ub');
  const va = a.query.issue.where('open', true).orderBy('modified', 'desc').limit(3).materialize();
  const vb = b.query.issue.orderBy('id', 'desc').limit(3).materialize();
  await eventually(() => expect(va.data).toHaveLength(3));
  await db.sql`INSERT INTO issue VALUES ('i999', 'new', true, 100000, 'u1')`;
  await db.sql`UPDATE issue SET modified = 99999 WHERE id = 'i001'`;
  await db.sql`DELETE FROM issue WHERE id = 'i040'`;
  await db.sql`UPDATE issue SET id = 'i998' WHERE id = 'i039'`;
  await eventually(async () => {
    expect(va.data.map((i) => i.id)).toEqual(await openIssuesSQL(3));
    const top = await db.sql`SELECT id FROM issue ORDER BY id DESC LIMIT 3`;
    expect(vb.data.map((i) => i.id)).toEqual(top.map((r) => r.id));
  });
  va.destroy();
  vb.destroy();
});

describe('protocol errors', () => {
  function rawSocket(path: string, protocol = encodeSecProtocols({})): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}${path}`, [protocol]);
      const messages: unknown[] = [];
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${path}: not closed within 15 s; got ${JSON.stringify(messages)}`));
      }, 15_000);
      ws.on('message', (d) => {
        messages.push(JSON.parse(String(d)));
        if (messages.length === 1 && (messages[0] as [string])[0] === 'connected')
          ws.send('{not json');
      });
      ws.on('close', () => {
        clearTimeout(timer);
        resolve(messages);
      });
      ws.on('error', reject);
    });
  }
  const q = 'clientID=c1&clientGroupID=g-raw&ts=1&lmid=0';

  test('protocol v29 and v52 get VersionNotSupported', async () => {
    for (const v of [29, 52]) {
      const messages = await rawSocket(`/sync/v${v}/connect?${q}`);
      expect(messages).toEqual([['error', expect.objectContaining({kind: 'VersionNotSupported'})]]);
    }
  });

  test('a malformed message gets InvalidMessage and closes only that connection', async () => {
    const z = client('bystander');
    const view = z.query.user.where('id', 'u2').materialize();
    await eventually(() => expect(view.data.map((u) => u.name)).toEqual(['user 2']));
    const messages = await rawSocket(`/sync/v44/connect?${q}`);
    expect(messages[1]).toEqual(['error', expect.objectContaining({kind: 'InvalidMessage'})]);
    // Another client on the same server keeps syncing.
    await db.sql`UPDATE "user" SET name = 'renamed' WHERE id = 'u2'`;
    await eventually(() => expect(view.data.map((u) => u.name)).toEqual(['renamed']));
    view.destroy();
  });

  test('a client whose schema does not match the replica gets SchemaVersionNotSupported', async () => {
    const bad = createSchema({
      tables: [table('nope').columns({id: string()}).primaryKey('id')],
      enableLegacyQueries: true,
    });
    const reasons: unknown[] = [];
    const z = new Zero({
      server,
      userID: 'ux',
      schema: bad,
      kvStore: 'mem',
      onUpdateNeeded: (r) => reasons.push(r),
    });
    clients.push(z as never);
    z.query.nope.materialize();
    await eventually(() =>
      expect(reasons).toEqual([
        expect.objectContaining({
          type: 'SchemaVersionNotSupported',
          message: expect.stringMatching(/"nope" table does not exist/),
        }),
      ]),
    );
  });
});
