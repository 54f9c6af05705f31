import {afterAll, beforeAll, beforeEach, describe, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../../test/support/pg.js';
import type {DataChange} from '../protocol/change-stream.js';
import {
  getPublishedSchema,
  type PublishedSchema,
  type PublishedTableSpec,
} from './published-schema.js';
import {diffPublishedSchemas} from './schema-diff.js';

const PUBLICATIONS = ['diff_pub'];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('schemadiff');
  await db.sql.unsafe(`
    CREATE SCHEMA hidden;
    CREATE PUBLICATION diff_pub FOR TABLES IN SCHEMA public;
  `);
});
afterAll(() => db.drop());

/** The schema before and after `ddl`, and their diff. */
async function diffOf(ddl: string) {
  const before = await getPublishedSchema(db.sql, PUBLICATIONS);
  await db.sql.unsafe(ddl);
  const after = await getPublishedSchema(db.sql, PUBLICATIONS);
  return {before, after, changes: diffPublishedSchemas(before, after)};
}

function table(schema: PublishedSchema, name: string): PublishedTableSpec {
  const found = schema.tables.find((t) => t.name === name);
  expect(found, `table ${name}`).toBeDefined();
  return found!;
}

const issues = {schema: 'public', name: 'issues'};

describe('one table through its life', () => {
  test('create table', async () => {
    const {after, changes} = await diffOf(
      'CREATE TABLE issues (id int4 PRIMARY KEY, title varchar(100), n int8)',
    );
    const {schema, name, oid, columns, primaryKey} = table(after, 'issues');
    expect(changes).toEqual([
      {tag: 'create-table', spec: {schema, name, oid, columns, primaryKey}},
      {
        tag: 'create-index',
        spec: {
          ...issues,
          tableName: 'issues',
          name: 'issues_pkey',
          unique: true,
          columns: {id: 'ASC'},
        },
      },
    ]);
    expect(Object.keys(columns)).toEqual(['id', 'title', 'n']);
  });

  test('add column', async () => {
    const {after, changes} = await diffOf(`ALTER TABLE issues ADD COLUMN body text DEFAULT 'none'`);
    const spec = table(after, 'issues').columns.body!;
    expect(spec).toMatchObject({pos: 4, dataType: 'text', dflt: "'none'::text"});
    expect(changes).toEqual([{tag: 'add-column', table: issues, column: {name: 'body', spec}}]);
  });

  test('rename column', async () => {
    const {before, after, changes} = await diffOf('ALTER TABLE issues RENAME COLUMN title TO name');
    expect(changes).toEqual([
      {
        tag: 'update-column',
        table: issues,
        old: {name: 'title', spec: table(before, 'issues').columns.title},
        new: {name: 'name', spec: table(after, 'issues').columns.name},
      },
    ]);
  });

  test('alter column type, re-creating the indexes over it', async () => {
    await db.sql`CREATE INDEX issues_name ON issues (name DESC, id)`;
    const {changes} = await diffOf('ALTER TABLE issues ALTER COLUMN name TYPE text');
    const index = {...issues, tableName: 'issues', name: 'issues_name', unique: false};
    expect(changes).toEqual([
      {tag: 'drop-index', id: {schema: 'public', name: 'issues_name'}},
      {
        tag: 'update-column',
        table: issues,
        old: {name: 'name', spec: expect.objectContaining({dataType: 'varchar', pos: 2})},
        new: {name: 'name', spec: expect.objectContaining({dataType: 'text', pos: 2})},
      },
      {tag: 'create-index', spec: {...index, columns: {name: 'DESC', id: 'ASC'}}},
    ]);
  });

  test('set not null', async () => {
    const {changes} = await diffOf('ALTER TABLE issues ALTER COLUMN n SET NOT NULL');
    expect(changes).toEqual([
      {
        tag: 'update-column',
        table: issues,
        old: {name: 'n', spec: expect.objectContaining({notNull: false})},
        new: {name: 'n', spec: expect.objectContaining({notNull: true})},
      },
    ]);
  });

  test('changes that do not concern the replica give no changes', async () => {
    for (const ddl of [
      `ALTER TABLE issues ALTER COLUMN body SET DEFAULT 'x'`,
      'ALTER TABLE issues ADD CONSTRAINT positive CHECK (n > 0)',
      'CREATE TABLE hidden.t (id int4 PRIMARY KEY)',
    ]) {
      expect((await diffOf(ddl)).changes).toEqual([]);
    }
  });

  test('drop an indexed column: the index goes first', async () => {
    const {changes} = await diffOf('ALTER TABLE issues DROP COLUMN name');
    expect(changes).toEqual([
      {tag: 'drop-index', id: {schema: 'public', name: 'issues_name'}},
      {tag: 'drop-column', table: issues, column: 'name'},
    ]);
  });

  test('drop and add in one statement: drop first', async () => {
    const {after, changes} = await diffOf('ALTER TABLE issues ADD COLUMN z bool, DROP COLUMN body');
    expect(changes).toEqual([
      {tag: 'drop-column', table: issues, column: 'body'},
      {
        tag: 'add-column',
        table: issues,
        column: {name: 'z', spec: table(after, 'issues').columns.z},
      },
    ]);
  });

  test('create and drop index', async () => {
    const created = await diffOf('CREATE UNIQUE INDEX issues_n ON issues (n)');
    expect(created.changes).toEqual([
      {
        tag: 'create-index',
        spec: {...issues, tableName: 'issues', name: 'issues_n', unique: true, columns: {n: 'ASC'}},
      },
    ]);
    const dropped = await diffOf('DROP INDEX issues_n');
    expect(dropped.changes).toEqual([
      {tag: 'drop-index', id: {schema: 'public', name: 'issues_n'}},
    ]);
  });

  test('a constraint replaced under the same name re-creates its index', async () => {
    await db.sql`ALTER TABLE issues ADD CONSTRAINT issues_uq UNIQUE (n)`;
    const {changes} = await diffOf(
      'ALTER TABLE issues DROP CONSTRAINT issues_uq, ADD CONSTRAINT issues_uq UNIQUE (n, id)',
    );
    expect(changes).toEqual([
      {tag: 'drop-index', id: {schema: 'public', name: 'issues_uq'}},
      {
        tag: 'create-index',
        spec: {
          ...issues,
          tableName: 'issues',
          name: 'issues_uq',
          unique: true,
          columns: {n: 'ASC', id: 'ASC'},
        },
      },
    ]);
  });

  test('rename table keeps its identity and its indexes', async () => {
    const {changes} = await diffOf('ALTER TABLE issues RENAME TO tickets');
    expect(changes).toEqual([
      {tag: 'rename-table', old: issues, new: {schema: 'public', name: 'tickets'}},
    ]);
  });

  test('drop table drops its indexes first', async () => {
    const {changes} = await diffOf('DROP TABLE tickets');
    expect(changes).toEqual([
      {tag: 'drop-index', id: {schema: 'public', name: 'issues_pkey'}},
      {tag: 'drop-index', id: {schema: 'public', name: 'issues_uq'}},
      {tag: 'drop-table', id: {schema: 'public', name: 'tickets'}},
    ]);
  });
});

describe('publication changes', () => {
  beforeEach(async () => {
    await db.sql.unsafe(`
      DROP TABLE IF EXISTS hidden.moved;
      CREATE TABLE hidden.moved (id text PRIMARY KEY, v int4);
    `);
  });

  test('a table that becomes published is created; one that stops being so is dropped', async () => {
    const added = await diffOf('ALTER PUBLICATION diff_pub ADD TABLE hidden.moved');
    const {schema, name, oid, columns, primaryKey} = table(added.after, 'moved');
    expect(added.changes).toEqual([
      {tag: 'create-table', spec: {schema, name, oid, columns, primaryKey}},
      {
        tag: 'create-index',
        spec: {schema, tableName: 'moved', name: 'moved_pkey', unique: true, columns: {id: 'ASC'}},
      },
    ]);
    const removed = await diffOf('ALTER PUBLICATION diff_pub DROP TABLE hidden.moved');
    expect(removed.changes).toEqual([
      {tag: 'drop-index', id: {schema: 'hidden', name: 'moved_pkey'}},
      {tag: 'drop-table', id: {schema: 'hidden', name: 'moved'}},
    ]);
  });

  test('a table moved out of the published schema is dropped', async () => {
    await db.sql`CREATE TABLE public.leaving (id int4 PRIMARY KEY)`;
    const {changes} = await diffOf('ALTER TABLE public.leaving SET SCHEMA hidden');
    expect(changes).toEqual([
      {tag: 'drop-index', id: {schema: 'public', name: 'leaving_pkey'}},
      {tag: 'drop-table', id: {schema: 'public', name: 'leaving'}},
    ]);
    await db.sql`DROP TABLE hidden.leaving`;
  });
});

describe('ordering across tables', () => {
  test('drop-index, drop-table, per-table alters, create-table, create-index', async () => {
    await db.sql.unsafe(`
      CREATE TABLE a (id int4 PRIMARY KEY, x text);
      CREATE TABLE b (id int4 PRIMARY KEY, y text);
      CREATE INDEX a_x ON a (x);
    `);
    const before = await getPublishedSchema(db.sql, PUBLICATIONS);
    await db.sql.unsafe(`
      CREATE TABLE c (id int4 PRIMARY KEY);
      DROP TABLE a;
      ALTER TABLE b RENAME TO b2;
      ALTER TABLE b2 RENAME COLUMN y TO y2;
      ALTER TABLE b2 ADD COLUMN w int4;
    `);
    const after = await getPublishedSchema(db.sql, PUBLICATIONS);
    const changes: DataChange[] = diffPublishedSchemas(before, after);
    expect(changes.map((c) => c.tag)).toEqual([
      'drop-index',
      'drop-index',
      'drop-table',
      'rename-table',
      'update-column',
      'add-column',
      'create-table',
      'create-index',
    ]);
    expect(changes.slice(0, 2)).toEqual([
      {tag: 'drop-index', id: {schema: 'public', name: 'a_pkey'}},
      {tag: 'drop-index', id: {schema: 'public', name: 'a_x'}},
    ]);
    expect(changes[4]).toMatchObject({table: {name: 'b2'}, old: {name: 'y'}, new: {name: 'y2'}});
    expect(changes[7]).toMatchObject({spec: {tableName: 'c', name: 'c_pkey'}});
    expect(diffPublishedSchemas(after, after)).toEqual([]);
  });
});
