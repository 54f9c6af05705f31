import {
  ANYONE_CAN,
  createSchema,
  definePermissions,
  string,
  table,
  type ExpressionBuilder,
} from '@rocicorp/zero';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {CrudMutations} from '../../src/crud/index.js';
import type {ProtocolError} from '../../src/protocol/sync-errors.js';
import type {CRUDMutation, CRUDOp} from '../../src/protocol/sync-up-push.js';
import {openReplica, type ReplicaDb} from '../../src/replica/index.js';
import {connectPostgres} from '../../src/replication/upstream-connection.js';
import {createLogger} from '../../src/shared/log.js';
import {eventually} from '../support/eventually.js';
import {freePort} from '../support/ports.js';
import {startHarness, type ReplicationHarness} from '../replication/harness.js';

/**
 * What a failed or refused CRUD mutation tells its client, on real Postgres and a real replica:
 * its own mistakes and constraint names, but never row values, hosts, ports or roles (those go
 * to the log under an error id the client is given), and nothing that tells a missing row from
 * one it may not write.
 */
const issue = table('issue')
  .columns({id: string(), ownerID: string(), title: string()})
  .primaryKey('id');
const audited = table('audited').columns({id: string(), note: string()}).primaryKey('id');
const schema = createSchema({tables: [issue, audited]});
type Auth = {sub: string};
const isOwner = (a: Auth, eb: ExpressionBuilder<'issue', typeof schema>) =>
  eb.cmp('ownerID', a.sub);

const SECRET_VALUE = 'hunter2-in-another-table';
const ERROR_ID = /error id ([0-9a-f]{12})/;
let h: ReplicationHarness;
let replica: ReplicaDb;
const ada = {sub: 'ada'};

/** CrudMutations whose log lines are kept in `logged`. */
function crudMutations(upstreamUrl?: string) {
  const logged: string[] = [];
  const crud = new CrudMutations({
    upstream: upstreamUrl ? connectPostgres(upstreamUrl, {max: 1}) : h.db.sql,
    appID: 'zero',
    shardSchema: 'zero_0',
    clientGroupID: 'cg',
    replica: () => replica,
    customMutators: false,
    log: createLogger('info', 'text', {}, {write: (line) => logged.push(line)}),
  });
  return {crud, logged};
}

let nextClient = 0;
function mutation(...ops: CRUDOp[]): CRUDMutation {
  const clientID = `d${nextClient++}`;
  return {type: 'crud', id: 1, clientID, name: '_zero_crud', args: [{ops}], timestamp: 1};
}
const opOn = (tableName: string, op: CRUDOp['op'], value: Record<string, unknown>): CRUDOp =>
  ({op, tableName, primaryKey: ['id'], value}) as CRUDOp;

async function lmid(clientID: string): Promise<number> {
  const [row] = await h.db.sql<{lastMutationID: string}[]>`
    SELECT "lastMutationID" FROM zero_0.clients WHERE "clientID" = ${clientID}`;
  return row ? Number(row.lastMutationID) : 0;
}

beforeAll(async () => {
  h = await startHarness(`
    CREATE TABLE issue (id text PRIMARY KEY, "ownerID" text NOT NULL,
                        title text NOT NULL CHECK (title <> ''));
    CREATE TABLE secret (id text PRIMARY KEY, v text);
    CREATE TABLE audited (id text PRIMARY KEY, note text);
    INSERT INTO issue VALUES ('grace-1', 'grace', 'grace''s issue');
    INSERT INTO secret VALUES ('s', '${SECRET_VALUE}');
    -- An app trigger whose exception quotes a row the client may not read.
    CREATE FUNCTION audit_check() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit refused: %', (SELECT v FROM secret LIMIT 1); END $$;
    CREATE TRIGGER audited_check BEFORE INSERT ON audited
      FOR EACH ROW EXECUTE FUNCTION audit_check();
  `);
  const permissions = await definePermissions<Auth, typeof schema>(schema, () => ({
    issue: {
      row: {
        select: ANYONE_CAN,
        insert: [isOwner],
        update: {preMutation: [isOwner], postMutation: [isOwner]},
        delete: [isOwner],
      },
    },
    audited: {row: {insert: ANYONE_CAN}},
  }));
  await h.db.sql`UPDATE zero.permissions SET permissions = ${h.db.sql.json(permissions as never)}`;
  replica = openReplica(h.replicaFile, {readonly: true});
  await eventually(() => {
    expect(replica.prepare('SELECT permissions FROM "zero.permissions"').get()).toMatchObject({
      permissions: expect.stringContaining('ownerID'),
    });
    expect(replica.prepare(`SELECT id FROM issue`).all()).toEqual([{id: 'grace-1'}]);
  });
});
afterAll(async () => {
  replica?.close();
  await h?.close();
});

test.each([
  ['an update', 'update'],
  ['a delete', 'delete'],
] as const)(
  '%s of a row the replica lacks is answered exactly like a denied one',
  async (_what, kind) => {
    const value = (id: string) => (kind === 'update' ? {id, title: 'mine now'} : {id});
    const {crud} = crudMutations();
    const denied = mutation(opOn('issue', kind, value('grace-1')));
    const missing = mutation(opOn('issue', kind, value('no-such-issue')));
    const answers = [await crud.process(denied, ada, undefined)];
    answers.push(await crud.process(missing, ada, undefined));
    expect(answers).toEqual([undefined, undefined]);
    // Both confirmed, neither written.
    expect([await lmid(denied.clientID), await lmid(missing.clientID)]).toEqual([1, 1]);
    expect(await h.db.sql`SELECT id, title FROM issue`).toEqual([
      {id: 'grace-1', title: "grace's issue"},
    ]);
  },
);

test('an insert of an existing key is answered exactly like a denied insert', async () => {
  const {crud} = crudMutations();
  // Denied: ada may not insert a row owned by grace. Existing key: ada's own row, grace-1's id.
  const denied = mutation(opOn('issue', 'insert', {id: 'ada-x', ownerID: 'grace', title: 't'}));
  const taken = mutation(opOn('issue', 'insert', {id: 'grace-1', ownerID: 'ada', title: 't'}));
  const answers = [await crud.process(denied, ada, undefined)];
  answers.push(await crud.process(taken, ada, undefined));
  expect(answers).toEqual([undefined, undefined]);
  expect([await lmid(denied.clientID), await lmid(taken.clientID)]).toEqual([1, 1]);
  expect(await h.db.sql`SELECT id, "ownerID" FROM issue ORDER BY id`).toEqual([
    {id: 'grace-1', ownerID: 'grace'},
  ]);
});

test('a violated constraint is named, without the row values Postgres adds as its DETAIL', async () => {
  const {crud, logged} = crudMutations();
  const bad = opOn('issue', 'insert', {id: 'row-value-7f3a', ownerID: 'ada', title: ''});
  const r = await crud.process(mutation(bad), ada, undefined);
  expect(r?.body).toMatchObject({kind: 'MutationFailed'});
  expect(r!.body.message).toMatch(/violates check constraint "issue_title_check"/);
  expect(r!.body.message).not.toMatch(/row-value-7f3a|Failing row/);
  // The detail existed, and stayed in the log.
  expect(logged.join('\n')).toMatch(/Failing row contains \(row-value-7f3a/);
});

test('any other database failure reaches the client as an error id; its text stays in the log', async () => {
  const {crud, logged} = crudMutations();
  const m = mutation(opOn('audited', 'insert', {id: 'a1', note: 'x'}));
  const r = await crud.process(m, ada, undefined);
  expect(r?.body).toMatchObject({kind: 'MutationFailed'});
  expect(r!.body.message).not.toContain(SECRET_VALUE);
  const id = ERROR_ID.exec(r!.body.message)?.[1];
  expect(id).toBeDefined();
  expect(logged.find((l) => l.includes(id!))).toContain(`audit refused: ${SECRET_VALUE}`);
  expect(await lmid(m.clientID)).toBe(1);
});

test.each([
  [
    'a refused connection',
    async () => `postgres://refused_role:p@127.0.0.1:${await freePort()}/none`,
  ],
  [
    'a refused login',
    () => {
      const u = new URL(h.db.url);
      u.username = 'intruder_role';
      u.password = 'wrong';
      return Promise.resolve(u.toString());
    },
  ],
])(
  'with upstream unreachable (%s) the client learns no host, port or role; the log has them under the error id',
  async (_what, url) => {
    const upstreamUrl = await url();
    const {hostname, port, username} = new URL(upstreamUrl);
    const {crud, logged} = crudMutations(upstreamUrl);
    const failure = await crud
      .process(mutation(opOn('issue', 'delete', {id: 'x'})), ada, undefined)
      .then(
        () => undefined,
        (e: ProtocolError) => e,
      );
    expect(failure?.body).toMatchObject({kind: 'ServerOverloaded'});
    const message = failure!.body.message;
    for (const secret of [hostname, port, username]) expect(message).not.toContain(secret);
    const id = ERROR_ID.exec(message)?.[1];
    expect(id).toBeDefined();
    expect(logged.find((l) => l.includes(id!))).toMatch(/ECONNREFUSED 127\.0\.0\.1|intruder_role/);
  },
);
