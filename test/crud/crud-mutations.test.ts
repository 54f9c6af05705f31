import {
  ANYONE_CAN,
  boolean,
  createSchema,
  definePermissions,
  enumeration,
  json,
  number,
  string,
  table,
  type ExpressionBuilder,
} from '@rocicorp/zero';
import {afterAll, beforeAll, beforeEach, describe, expect, test} from 'vitest';
import {CrudMutations, MutationRateLimit} from '../../src/crud/index.js';
import {connectPostgres} from '../../src/replication/upstream-connection.js';
import type {CRUDMutation, CRUDOp} from '../../src/protocol/sync-up-push.js';
import {openReplica, type ReplicaDb} from '../../src/replica/index.js';
import {createLogger} from '../../src/shared/log.js';
import {eventually} from '../support/eventually.js';
import {freePort} from '../support/ports.js';
import {startHarness, type ReplicationHarness} from '../replication/harness.js';

/**
 * Legacy CRUD mutations (fact sheet §7.6) against real upstream Postgres and a real replica kept
 * by replication: each mutation is confirmed exactly once (its client's last mutation id), its ops
 * run only when the write permissions (deployed with @rocicorp/zero's definePermissions) allow,
 * and every failure says what was wrong without losing or repeating a mutation.
 */
const issue = table('issue')
  .columns({
    id: string(),
    ownerID: string(),
    title: string(),
    n: number().optional(),
    done: boolean().optional(),
    meta: json().optional(),
    tags: json<string[]>().optional(),
    due: number().optional(),
    at: number().optional(),
    localAt: number().optional(),
    mood: enumeration<'happy' | 'sad'>().optional(),
  })
  .primaryKey('id');
const secret = table('secret').columns({id: string(), v: string()}).primaryKey('id');
const schema = createSchema({tables: [issue, secret]});
type Auth = {sub: string};
const isOwner = (a: Auth, eb: ExpressionBuilder<'issue', typeof schema>) =>
  eb.cmp('ownerID', a.sub);

let h: ReplicationHarness;
let replica: ReplicaDb;
const log = createLogger('warn');
const ada = {sub: 'ada'};

function crudMutations(o: {limit?: MutationRateLimit; upstreamUrl?: string} = {}) {
  return new CrudMutations({
    upstream: o.upstreamUrl ? connectPostgres(o.upstreamUrl, {max: 1}) : h.db.sql,
    appID: 'zero',
    shardSchema: 'zero_0',
    clientGroupID: 'cg',
    replica: () => replica,
    limit: o.limit,
    customMutators: false,
    log,
  });
}

const nextIDs = new Map<string, number>();
function mutation(clientID: string, ...ops: CRUDOp[]): CRUDMutation {
  const id = (nextIDs.get(clientID) ?? 0) + 1;
  nextIDs.set(clientID, id);
  return {type: 'crud', id, clientID, name: '_zero_crud', args: [{ops}], timestamp: Date.now()};
}
const insert = (value: Record<string, unknown>, tableName = 'issue'): CRUDOp => ({
  op: 'insert',
  tableName,
  primaryKey: ['id'],
  value: value as never,
});
const op = (kind: 'upsert' | 'update' | 'delete', value: Record<string, unknown>): CRUDOp =>
  ({op: kind, tableName: 'issue', primaryKey: ['id'], value}) as CRUDOp;

async function lmid(clientID: string): Promise<number> {
  const [row] = await h.db.sql<{lastMutationID: string}[]>`
    SELECT "lastMutationID" FROM zero_0.clients WHERE "clientGroupID" = 'cg' AND "clientID" = ${clientID}`;
  return row ? Number(row.lastMutationID) : 0;
}
async function upstreamIssue(id: string) {
  const [row] = await h.db.sql`SELECT * FROM issue WHERE id = ${id}`;
  return row;
}
/** Waits until the replica has caught up with upstream's issue rows. */
async function replicated(): Promise<void> {
  const want = JSON.stringify(await h.db.sql`SELECT id, title FROM issue ORDER BY id`);
  await eventually(() => {
    const got = replica.prepare('SELECT id, title FROM issue ORDER BY id').all();
    expect(JSON.stringify(got)).toBe(want);
  });
}

beforeAll(async () => {
  h = await startHarness(`
    CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE issue (
      id text PRIMARY KEY, "ownerID" text NOT NULL, title text NOT NULL CHECK (title <> ''),
      n int8, done bool, meta jsonb, tags text[], due date, "at" timestamptz,
      "localAt" timestamp, mood mood);
    CREATE TABLE secret (id text PRIMARY KEY, v text);
    INSERT INTO issue (id, "ownerID", title) VALUES ('grace-1', 'grace', 'grace''s issue');
  `);
  const permissions = await definePermissions<Auth, typeof schema>(schema, () => ({
    issue: {
      row: {
        select: ANYONE_CAN,
        insert: [isOwner],
        update: {preMutation: [isOwner], postMutation: [isOwner]},
        delete: [isOwner],
      },
      cell: {
        title: {
          update: {
            preMutation: ANYONE_CAN,
            postMutation: [(_a, eb) => eb.cmp('title', '!=', 'locked')],
          },
        },
      },
    },
  }));
  await h.db.sql`UPDATE zero.permissions SET permissions = ${h.db.sql.json(permissions as never)}`;
  replica = openReplica(h.replicaFile, {readonly: true});
  await eventually(() =>
    expect(replica.prepare('SELECT permissions FROM "zero.permissions"').get()).toMatchObject({
      permissions: expect.stringContaining('ownerID'),
    }),
  );
});
afterAll(async () => {
  replica?.close();
  await h?.close();
});
beforeEach(replicated);

describe('applying ops', () => {
  test('an insert is applied upstream and confirms the mutation', async () => {
    const crud = crudMutations();
    expect(
      await crud.process(
        mutation('c1', insert({id: 'a', ownerID: 'ada', title: 'A'})),
        ada,
        undefined,
      ),
    ).toBeUndefined();
    expect(await upstreamIssue('a')).toMatchObject({ownerID: 'ada', title: 'A'});
    expect(await lmid('c1')).toBe(1);
  });

  test("values come back to Postgres' types: int8, bool, jsonb, text[], date, timestamps, enum", async () => {
    const at = Date.UTC(2024, 4, 1, 10, 30, 15, 250);
    await crudMutations().process(
      mutation(
        'c2',
        insert({
          id: 'typed',
          ownerID: 'ada',
          title: 'typed',
          n: 9007199254740991,
          done: true,
          meta: {nested: [1, 'two', null]},
          tags: ['a', 'b "quoted"', 'back\\slash'],
          due: Date.UTC(2024, 11, 24),
          at,
          localAt: at,
          mood: 'sad',
        }),
      ),
      ada,
      undefined,
    );
    const [row] = await h.db.sql`
      SELECT n::text, done, meta, tags, due::text, "at" = ${new Date(at)}::timestamptz AS at_ok,
             "localAt"::text, mood::text FROM issue WHERE id = 'typed'`;
    expect(row).toEqual({
      n: '9007199254740991',
      done: true,
      meta: {nested: [1, 'two', null]},
      tags: ['a', 'b "quoted"', 'back\\slash'],
      due: '2024-12-24',
      at_ok: true,
      localAt: '2024-05-01 10:30:15.25',
      mood: 'sad',
    });
  });

  test('upsert inserts a missing row and updates an existing one; update and delete by key', async () => {
    const crud = crudMutations();
    await crud.process(
      mutation('c3', op('upsert', {id: 'u', ownerID: 'ada', title: 'one'})),
      ada,
      undefined,
    );
    expect(await upstreamIssue('u')).toMatchObject({title: 'one'});
    await replicated();
    await crud.process(
      mutation('c3', op('upsert', {id: 'u', ownerID: 'ada', title: 'two'})),
      ada,
      undefined,
    );
    expect(await upstreamIssue('u')).toMatchObject({title: 'two'});
    await replicated();
    await crud.process(mutation('c3', op('update', {id: 'u', done: true})), ada, undefined);
    expect(await upstreamIssue('u')).toMatchObject({title: 'two', done: true});
    await replicated();
    await crud.process(mutation('c3', op('delete', {id: 'u'})), ada, undefined);
    expect(await upstreamIssue('u')).toBeUndefined();
    expect(await lmid('c3')).toBe(4);
  });

  test('the ops of one mutation apply together, or none does', async () => {
    const crud = crudMutations();
    await crud.process(
      mutation(
        'c4',
        insert({id: 'm1', ownerID: 'ada', title: 'first'}),
        insert({id: 'm2', ownerID: 'grace', title: 'not hers to make'}),
      ),
      ada,
      undefined,
    );
    expect(await upstreamIssue('m1')).toBeUndefined();
    await crud.process(
      mutation(
        'c4',
        insert({id: 'm1', ownerID: 'ada', title: 'first'}),
        insert({id: 'm2', ownerID: 'ada', title: 'second'}),
      ),
      ada,
      undefined,
    );
    expect(await upstreamIssue('m1')).toMatchObject({title: 'first'});
    expect(await upstreamIssue('m2')).toMatchObject({title: 'second'});
    expect(await lmid('c4')).toBe(2);
  });
});

describe('exactly once', () => {
  test('an already processed mutation is ignored', async () => {
    const crud = crudMutations();
    const m = mutation('c5', insert({id: 'once', ownerID: 'ada', title: 'once'}));
    await crud.process(m, ada, undefined);
    await h.db.sql`UPDATE issue SET title = 'changed since' WHERE id = 'once'`;
    expect(await crud.process(m, ada, undefined)).toBeUndefined();
    expect(await upstreamIssue('once')).toMatchObject({title: 'changed since'});
    expect(await lmid('c5')).toBe(1);
  });

  test('a mutation ahead of the next expected id is a fatal InvalidPush', async () => {
    const m = {...mutation('c6', insert({id: 'ooo', ownerID: 'ada', title: 'x'})), id: 3};
    await expect(crudMutations().process(m, ada, undefined)).rejects.toMatchObject({
      body: {kind: 'InvalidPush', message: expect.stringContaining('Expected mutation id 1')},
    });
    expect(await upstreamIssue('ooo')).toBeUndefined();
    expect(await lmid('c6')).toBe(0);
  });

  test('concurrent mutations of many clients each apply once', async () => {
    const crud = crudMutations();
    const ms = Array.from({length: 12}, (_, i) =>
      mutation(`cc${i}`, insert({id: `cc${i}`, ownerID: 'ada', title: `t${i}`})),
    );
    const results = await Promise.all(ms.map((m) => crud.process(m, ada, undefined)));
    expect(results.every((r) => r === undefined)).toBe(true);
    const rows = await h.db.sql`SELECT id FROM issue WHERE id LIKE 'cc%'`;
    expect(rows).toHaveLength(12);
    for (let i = 0; i < 12; i++) expect(await lmid(`cc${i}`)).toBe(1);
  });
});

describe('write permissions', () => {
  test('an insert the rules deny is confirmed but not applied', async () => {
    const r = await crudMutations().process(
      mutation('p1', insert({id: 'not-mine', ownerID: 'grace', title: 'x'})),
      ada,
      undefined,
    );
    expect(r).toBeUndefined();
    expect(await upstreamIssue('not-mine')).toBeUndefined();
    expect(await lmid('p1')).toBe(1);
  });

  test("an update of another user's row is denied before the mutation", async () => {
    await crudMutations().process(
      mutation('p2', op('update', {id: 'grace-1', title: 'mine now'})),
      ada,
      undefined,
    );
    expect(await upstreamIssue('grace-1')).toMatchObject({title: "grace's issue"});
  });

  test('an update that would hand the row to another user is denied after the mutation', async () => {
    const crud = crudMutations();
    await crud.process(
      mutation('p3', insert({id: 'give', ownerID: 'ada', title: 'give'})),
      ada,
      undefined,
    );
    await replicated();
    await crud.process(
      mutation('p3', op('update', {id: 'give', ownerID: 'grace'})),
      ada,
      undefined,
    );
    expect(await upstreamIssue('give')).toMatchObject({ownerID: 'ada'});
    expect(await lmid('p3')).toBe(2);
  });

  test('a cell rule guards the column it names', async () => {
    const crud = crudMutations();
    await crud.process(
      mutation('p4', insert({id: 'cell', ownerID: 'ada', title: 'open'})),
      ada,
      undefined,
    );
    await replicated();
    await crud.process(mutation('p4', op('update', {id: 'cell', title: 'locked'})), ada, undefined);
    expect(await upstreamIssue('cell')).toMatchObject({title: 'open'});
    await crud.process(mutation('p4', op('update', {id: 'cell', done: true})), ada, undefined);
    expect(await upstreamIssue('cell')).toMatchObject({title: 'open', done: true});
  });

  test('a delete needs the delete rule; without a token nothing passes', async () => {
    const crud = crudMutations();
    await crud.process(
      mutation('p5', insert({id: 'del', ownerID: 'ada', title: 'del'})),
      ada,
      undefined,
    );
    await replicated();
    await crud.process(mutation('p5', op('delete', {id: 'del'})), undefined, undefined);
    expect(await upstreamIssue('del')).toBeDefined();
    await crud.process(mutation('p5', op('delete', {id: 'del'})), ada, undefined);
    expect(await upstreamIssue('del')).toBeUndefined();
  });

  test('a table without rules takes no writes', async () => {
    await crudMutations().process(
      mutation('p6', insert({id: 's', v: 'x'}, 'secret')),
      ada,
      undefined,
    );
    expect(await h.db.sql`SELECT * FROM secret`).toHaveLength(0);
    expect(await lmid('p6')).toBe(1);
  });
});

describe('failures', () => {
  test.each([
    ['an unknown table', insert({id: 'x'}, 'nosuch'), /no table "nosuch" is replicated/],
    [
      'an unknown column',
      insert({id: 'x', ownerID: 'ada', title: 't', colour: 'red'}),
      /no synced column "colour".*its columns: id, ownerID/,
    ],
    [
      'a value of the wrong kind',
      insert({id: 'x', ownerID: 'ada', title: {no: 1}}),
      /issue.title is text; it takes a string/,
    ],
    ['a missing key', insert({ownerID: 'ada', title: 't'}), /lacks its primary key column "id"/],
    ['a violated constraint', insert({id: 'x', ownerID: 'ada', title: ''}), /issue_title_check/],
  ])(
    '%s fails the mutation with MutationFailed, confirmed and not applied',
    async (_what, bad, message) => {
      const clientID = `f-${nextIDs.size}`;
      const crud = crudMutations();
      const r = await crud.process(mutation(clientID, bad), ada, undefined);
      expect(r?.body).toMatchObject({
        kind: 'MutationFailed',
        message: expect.stringMatching(message),
      });
      expect(r?.isTransient).toBe(true);
      expect(await upstreamIssue('x')).toBeUndefined();
      expect(await lmid(clientID)).toBe(1);
      // The client's next mutation goes through.
      const next = insert({id: `after-${clientID}`, ownerID: 'ada', title: 'next'});
      expect(await crud.process(mutation(clientID, next), ada, undefined)).toBeUndefined();
      expect(await lmid(clientID)).toBe(2);
    },
  );

  test('over the rate limit a mutation is refused, neither applied nor confirmed', async () => {
    let now = 0;
    const crud = crudMutations({limit: new MutationRateLimit(2, 1000, () => now)});
    const ms = ['r1', 'r2', 'r3'].map((id) =>
      mutation('rl', insert({id, ownerID: 'ada', title: id})),
    );
    const results = [];
    for (const m of ms) results.push(await crud.process(m, ada, undefined));
    expect(results.map((r) => r?.kind)).toEqual([undefined, undefined, 'MutationRateLimited']);
    expect(await upstreamIssue('r3')).toBeUndefined();
    expect(await lmid('rl')).toBe(2);
    now = 1000; // the window has moved on: the client re-sends it
    expect(await crud.process(ms[2]!, ada, undefined)).toBeUndefined();
    expect(await upstreamIssue('r3')).toBeDefined();
  });

  test('a schema version outside the supported range is refused', async () => {
    await h.db
      .sql`UPDATE zero."schemaVersions" SET "minSupportedVersion" = 2, "maxSupportedVersion" = 3`;
    try {
      await expect(
        crudMutations().process(
          mutation('sv', insert({id: 'sv', ownerID: 'ada', title: 'sv'})),
          ada,
          1,
        ),
      ).rejects.toMatchObject({body: {kind: 'SchemaVersionNotSupported'}});
      expect(await upstreamIssue('sv')).toBeUndefined();
    } finally {
      await h.db
        .sql`UPDATE zero."schemaVersions" SET "minSupportedVersion" = 1, "maxSupportedVersion" = 1`;
    }
  });

  test('a connection lost mid-mutation does not record the mutation as failed: it is applied once when re-sent', async () => {
    // The first insert into `issue` kills its own session (sequences are not transactional, so
    // the second attempt passes): before, the retry recorded the mutation as failed and lost it.
    await h.db.sql.unsafe(`
      CREATE SEQUENCE lose_once;
      CREATE FUNCTION lose_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('lose_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER lose_once BEFORE INSERT ON issue FOR EACH ROW EXECUTE FUNCTION lose_once();`);
    try {
      const m = mutation('lost', insert({id: 'lost', ownerID: 'ada', title: 'lost'}));
      await expect(crudMutations().process(m, ada, undefined)).rejects.toMatchObject({
        body: {kind: 'ServerOverloaded'},
      });
      expect(await lmid('lost')).toBe(0);
      expect(await upstreamIssue('lost')).toBeUndefined();
      expect(await crudMutations().process(m, ada, undefined)).toBeUndefined();
      expect(await lmid('lost')).toBe(1);
      expect(await upstreamIssue('lost')).toBeDefined();
    } finally {
      await h.db.sql.unsafe(`DROP TRIGGER lose_once ON issue; DROP FUNCTION lose_once();
        DROP SEQUENCE lose_once;`);
    }
  });

  test('with upstream unreachable nothing is applied and the client is told to come back', async () => {
    const crud = crudMutations({upstreamUrl: `postgres://u:p@127.0.0.1:${await freePort()}/none`});
    const m = mutation('down', insert({id: 'down', ownerID: 'ada', title: 'down'}));
    await expect(crud.process(m, ada, undefined)).rejects.toMatchObject({
      body: {
        kind: 'ServerOverloaded',
        message: expect.stringContaining('the client sends it again when it reconnects'),
      },
    });
    expect(await lmid('down')).toBe(0);
    // Re-sent once upstream is reachable: applied exactly once.
    expect(await crudMutations().process(m, ada, undefined)).toBeUndefined();
    expect(await lmid('down')).toBe(1);
  });
});
