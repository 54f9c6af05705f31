import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../../test/support/pg.js';
import {
  getPublishedSchema,
  validatePublishedTable,
  type PublishedSchema,
  type PublishedTableSpec,
} from './published-schema.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('pubschema');
  await db.sql.unsafe(`
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE TABLE every_type (
      id int8 PRIMARY KEY, i2 int2, i4 int4 NOT NULL DEFAULT 42, num numeric(10,2), f4 float4,
      f8 float8, b bool, t text DEFAULT 'x', vc varchar(20), c char(5), u uuid, j json, jb jsonb,
      ia int4[], ta text[], m mood, d date, tm time, ts timestamp, tstz timestamptz,
      vca varchar(7)[], moods mood[], by bytea);
    CREATE PUBLICATION every_type_pub FOR TABLE every_type;
  `);
});
afterAll(() => db.drop());

function tableOf(schema: PublishedSchema, name: string): PublishedTableSpec {
  const table = schema.tables.find((t) => t.name === name);
  expect(
    table,
    `table ${name} in ${JSON.stringify(schema.tables.map((t) => t.name))}`,
  ).toBeDefined();
  return table!;
}

test('every supported type, with its type name, class, length and default', async () => {
  const schema = await getPublishedSchema(db.sql, ['every_type_pub']);
  const [table] = schema.tables;
  const [oids] = await db.sql<{oid: number; moodOID: number; moodsOID: number}[]>`
    SELECT 'every_type'::regclass::int4 AS oid, 'mood'::regtype::int4 AS "moodOID",
      'mood[]'::regtype::int4 AS "moodsOID"`;
  const {oid, moodOID, moodsOID} = oids!;
  expect(table).toMatchObject({
    oid,
    schema: 'public',
    name: 'every_type',
    replicaIdentity: 'd',
    primaryKey: ['id'],
    publications: {every_type_pub: {rowFilter: null}},
  });
  const brief = Object.entries(table!.columns).map(([name, c]) => [
    name,
    c.pos,
    c.dataType,
    c.typeOID,
    c.notNull,
    c.pgTypeClass,
    c.elemPgTypeClass,
    c.characterMaximumLength,
    c.dflt,
  ]);
  expect(brief).toEqual([
    ['id', 1, 'int8', 20, true, 'b', null, null, null],
    ['i2', 2, 'int2', 21, false, 'b', null, null, null],
    ['i4', 3, 'int4', 23, true, 'b', null, null, '42'],
    ['num', 4, 'numeric', 1700, false, 'b', null, null, null],
    ['f4', 5, 'float4', 700, false, 'b', null, null, null],
    ['f8', 6, 'float8', 701, false, 'b', null, null, null],
    ['b', 7, 'bool', 16, false, 'b', null, null, null],
    ['t', 8, 'text', 25, false, 'b', null, null, "'x'::text"],
    ['vc', 9, 'varchar', 1043, false, 'b', null, 20, null],
    ['c', 10, 'bpchar', 1042, false, 'b', null, 5, null],
    ['u', 11, 'uuid', 2950, false, 'b', null, null, null],
    ['j', 12, 'json', 114, false, 'b', null, null, null],
    ['jb', 13, 'jsonb', 3802, false, 'b', null, null, null],
    ['ia', 14, 'int4[]', 1007, false, 'b', 'b', null, null],
    ['ta', 15, 'text[]', 1009, false, 'b', 'b', null, null],
    ['m', 16, 'mood', moodOID, false, 'e', null, null, null],
    ['d', 17, 'date', 1082, false, 'b', null, null, null],
    ['tm', 18, 'time', 1083, false, 'b', null, null, null],
    ['ts', 19, 'timestamp', 1114, false, 'b', null, null, null],
    ['tstz', 20, 'timestamptz', 1184, false, 'b', null, null, null],
    ['vca', 21, 'varchar[]', 1015, false, 'b', 'b', 7, null],
    ['moods', 22, 'mood[]', moodsOID, false, 'b', 'e', null, null],
    ['by', 23, 'bytea', 17, false, 'b', null, null, null],
  ]);
  expect(schema.indexes).toEqual([
    {
      schema: 'public',
      tableName: 'every_type',
      name: 'every_type_pkey',
      unique: true,
      columns: {id: 'ASC'},
      isReplicaIdentity: false,
      isImmediate: true,
    },
  ]);
  expect(validatePublishedTable(table!, schema.indexes)).toEqual({
    errors: [],
    warnings: [expect.stringContaining('"by" of table "public"."every_type" has type "bytea"')],
    syncable: true,
  });
});

describe('row keys', () => {
  beforeAll(async () => {
    await db.sql.unsafe(`
      CREATE TABLE only_unique (
        a text NOT NULL, b int4 NOT NULL, c text, d int4 NOT NULL, UNIQUE (a, b), UNIQUE (c));
      CREATE UNIQUE INDEX only_unique_d ON only_unique (d DESC);
      CREATE UNIQUE INDEX only_unique_partial ON only_unique (a) WHERE b > 0;
      CREATE UNIQUE INDEX only_unique_expr ON only_unique (lower(a));
      CREATE INDEX only_unique_cb ON only_unique (c, b DESC);

      CREATE TABLE by_identity (x int4 NOT NULL UNIQUE, y text NOT NULL, z text NOT NULL);
      CREATE UNIQUE INDEX by_identity_yz ON by_identity (y, z);
      ALTER TABLE by_identity REPLICA IDENTITY USING INDEX by_identity_yz;

      CREATE TABLE composite_pk (k2 text, k1 int4, v text, PRIMARY KEY (k1, k2));
      CREATE UNIQUE INDEX composite_pk_v ON composite_pk (v);
      ALTER TABLE composite_pk ALTER COLUMN v SET NOT NULL;

      CREATE TABLE no_key (a int4, b text);
      CREATE TABLE nullable_unique (a int4 UNIQUE, b text);
      CREATE PUBLICATION keys_pub FOR TABLE only_unique, by_identity, composite_pk, no_key,
        nullable_unique;
    `);
  });

  test('a table with only unique indexes keys on the one over non-null columns with fewest columns', async () => {
    const schema = await getPublishedSchema(db.sql, ['keys_pub']);
    const table = tableOf(schema, 'only_unique');
    expect(table.primaryKey).toEqual(['d']);
    expect(table.replicaIdentity).toBe('d');
    expect(validatePublishedTable(table, schema.indexes).syncable).toBe(true);
    const indexes = schema.indexes.filter((i) => i.tableName === 'only_unique');
    expect(indexes.map((i) => [i.name, i.unique, i.columns])).toEqual([
      ['only_unique_a_b_key', true, {a: 'ASC', b: 'ASC'}],
      ['only_unique_c_key', true, {c: 'ASC'}],
      ['only_unique_cb', false, {c: 'ASC', b: 'DESC'}],
      ['only_unique_d', true, {d: 'DESC'}],
    ]);
  });

  test('the replica identity index is the key when there is no primary key', async () => {
    const schema = await getPublishedSchema(db.sql, ['keys_pub']);
    const table = tableOf(schema, 'by_identity');
    expect(table.replicaIdentity).toBe('i');
    expect(table.primaryKey).toEqual(['y', 'z']);
    const identity = schema.indexes.find((i) => i.name === 'by_identity_yz');
    expect(identity).toMatchObject({isReplicaIdentity: true, unique: true});
    expect(validatePublishedTable(table, schema.indexes)).toEqual({
      errors: [],
      warnings: [],
      syncable: true,
    });
  });

  test('a primary key wins, in key order', async () => {
    const schema = await getPublishedSchema(db.sql, ['keys_pub']);
    expect(tableOf(schema, 'composite_pk').primaryKey).toEqual(['k1', 'k2']);
  });

  test('tables without a key over non-null columns are not syncable', async () => {
    const schema = await getPublishedSchema(db.sql, ['keys_pub']);
    for (const name of ['no_key', 'nullable_unique']) {
      const table = tableOf(schema, name);
      expect(table.primaryKey).toEqual([]);
      const validation = validatePublishedTable(table, schema.indexes);
      expect(validation.errors).toEqual([]);
      expect(validation.syncable).toBe(false);
      expect(validation.warnings).toEqual([expect.stringContaining('not synced to clients')]);
    }
  });

  test('a key over a column of an unsupported type does not make a table syncable', async () => {
    await db.sql.unsafe(`
      CREATE TABLE bytes_key (id bytea PRIMARY KEY, v text);
      CREATE PUBLICATION bytes_pub FOR TABLE bytes_key;
    `);
    const schema = await getPublishedSchema(db.sql, ['bytes_pub']);
    expect(schema.tables[0]!.primaryKey).toEqual(['id']);
    expect(validatePublishedTable(schema.tables[0]!, schema.indexes).syncable).toBe(false);
  });
});

describe('publications', () => {
  beforeAll(async () => {
    await db.sql.unsafe(`
      CREATE SCHEMA zed;
      CREATE SCHEMA "Alpha";
      CREATE TABLE zed.items (id int4 PRIMARY KEY, secret text, shown text, n int4);
      CREATE INDEX items_secret ON zed.items (secret);
      CREATE INDEX items_shown ON zed.items (shown);
      CREATE TABLE "Alpha".b (id int4 PRIMARY KEY);
      CREATE TABLE "Alpha"."B" (id int4 PRIMARY KEY);
      CREATE TABLE "Alpha".a (id int4 PRIMARY KEY);
      CREATE PUBLICATION cols_pub FOR TABLE zed.items (id, shown) WHERE (id > 10);
      CREATE PUBLICATION cols_pub2 FOR TABLE zed.items (id, shown);
      CREATE PUBLICATION schema_pub FOR TABLES IN SCHEMA "Alpha";
    `);
  });

  test('column lists and row filters are respected', async () => {
    const schema = await getPublishedSchema(db.sql, ['cols_pub', 'cols_pub2']);
    const [items] = schema.tables;
    expect(schema.tables).toHaveLength(1);
    expect(Object.keys(items!.columns)).toEqual(['id', 'shown']);
    expect(items!.columns.shown!.pos).toBe(3);
    expect(items!.publications).toEqual({
      cols_pub: {rowFilter: '(id > 10)'},
      cols_pub2: {rowFilter: null},
    });
    // Indexes over unpublished columns are left out.
    expect(schema.indexes.map((i) => i.name)).toEqual(['items_pkey', 'items_shown']);
  });

  test('tables and indexes are ordered by schema, then name, in byte order', async () => {
    const schema = await getPublishedSchema(db.sql, ['schema_pub', 'cols_pub']);
    expect(schema.tables.map((t) => `${t.schema}.${t.name}`)).toEqual([
      'Alpha.B',
      'Alpha.a',
      'Alpha.b',
      'zed.items',
    ]);
    expect(schema.indexes.map((i) => `${i.schema}.${i.name}`)).toEqual([
      'Alpha.B_pkey',
      'Alpha.a_pkey',
      'Alpha.b_pkey',
      'zed.items_pkey',
      'zed.items_shown',
    ]);
  });

  test('generated columns are not published; partitions publish as their root', async () => {
    await db.sql.unsafe(`
      CREATE TABLE gen (id int4 PRIMARY KEY, twice int4 GENERATED ALWAYS AS (id * 2) STORED);
      CREATE TABLE events (id int4, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE PUBLICATION gen_pub FOR TABLE gen, events WITH (publish_via_partition_root = true);
    `);
    const schema = await getPublishedSchema(db.sql, ['gen_pub']);
    expect(schema.tables.map((t) => [t.name, Object.keys(t.columns), t.primaryKey])).toEqual([
      ['events', ['id', 'at'], ['id', 'at']],
      ['gen', ['id'], ['id']],
    ]);
    expect(schema.indexes.map((i) => i.name)).toEqual(['events_pkey', 'gen_pkey']);
  });

  test('unknown or no publications give an empty schema', async () => {
    expect(await getPublishedSchema(db.sql, [])).toEqual({tables: [], indexes: []});
    expect(await getPublishedSchema(db.sql, ['nope'])).toEqual({tables: [], indexes: []});
  });

  test('works in a read-only transaction that imported a snapshot', async () => {
    const exporter = await db.sql.reserve();
    try {
      await exporter`BEGIN ISOLATION LEVEL REPEATABLE READ`;
      const [exported] = await exporter<
        {snapshot: string}[]
      >`SELECT pg_export_snapshot() AS snapshot`;
      const snapshot = exported!.snapshot;
      // Catalog changes after the snapshot must not show.
      await db.sql`CREATE TABLE "Alpha".later (id int4 PRIMARY KEY)`;
      await db.sql`ALTER TABLE "Alpha".a ADD COLUMN extra text`;
      const schema = await db.sql.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
        await tx.unsafe(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
        return getPublishedSchema(tx, ['schema_pub']);
      });
      expect(schema.tables.map((t) => t.name)).toEqual(['B', 'a', 'b']);
      expect(Object.keys(schema.tables[1]!.columns)).toEqual(['id']);
      await exporter`COMMIT`;
      await db.sql`DROP TABLE "Alpha".later`;
      await db.sql`ALTER TABLE "Alpha".a DROP COLUMN extra`;
    } finally {
      exporter.release();
    }
  });
});

describe('validation', () => {
  beforeAll(async () => {
    await db.sql.unsafe(`
      CREATE TABLE "bad table" (id int4 PRIMARY KEY, "bad col!" text, "ok.dotted" text);
      CREATE TABLE reserved (id int4 PRIMARY KEY, _0_version text);
      CREATE TABLE nothing (id int4 PRIMARY KEY);
      ALTER TABLE nothing REPLICA IDENTITY NOTHING;
      CREATE TABLE lost_identity (id int4 NOT NULL);
      CREATE UNIQUE INDEX lost_identity_id ON lost_identity (id);
      ALTER TABLE lost_identity REPLICA IDENTITY USING INDEX lost_identity_id;
      DROP INDEX lost_identity_id;
      CREATE PUBLICATION invalid_pub FOR TABLE "bad table", reserved, nothing, lost_identity;
    `);
  });

  test('reports names, the reserved column and unusable replica identities', async () => {
    const schema = await getPublishedSchema(db.sql, ['invalid_pub']);
    const errorsOf = (name: string) =>
      validatePublishedTable(tableOf(schema, name), schema.indexes).errors;
    expect(errorsOf('bad table')).toEqual([
      expect.stringMatching(/^Table "public"."bad table" has characters/),
      expect.stringMatching(/^Column "bad col!" of table "public"."bad table" has characters/),
    ]);
    expect(errorsOf('reserved')).toEqual([
      expect.stringContaining('reserved column name "_0_version"'),
    ]);
    expect(errorsOf('nothing')).toEqual([expect.stringContaining('REPLICA IDENTITY NOTHING')]);
    expect(tableOf(schema, 'lost_identity').replicaIdentity).toBe('i');
    expect(errorsOf('lost_identity')).toEqual([expect.stringContaining('that index is gone')]);
  });
});
