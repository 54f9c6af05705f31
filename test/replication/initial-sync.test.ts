import Database from 'better-sqlite3';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {expectReplicaEqualsUpstream, type ColumnKind} from '../support/replica-compare.js';
import {startHarness, type ReplicationHarness} from './harness.js';

const SETUP = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE everything (
  id int4 PRIMARY KEY,
  i2 int2, i4 int4, i8 int8, num numeric, f4 float4, f8 float8, b bool,
  t text, vc varchar(20), ch char(5), u uuid, j json, jb jsonb,
  ia int4[], ta text[], ba bool[], m mood,
  d date, tm time, ts timestamp, tstz timestamptz
);
INSERT INTO everything VALUES
  (1, 0, 0, 0, 0, 0, 0, false, '', '', '', '00000000-0000-0000-0000-000000000000', 'null', '{}',
   '{}', '{}', '{}', 'sad', '1970-01-01', '00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00'),
  (2, 32767, 2147483647, 9007199254740991, 123456789.123456789, 3.4e38, 1.7976931348623157e308, true,
   'tab\there\nnewline \\\\ backslash "quote" ''single'' é ü 🎉', 'varchar', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '{"a": [1, 2.5, "x"], "b": null}', '{"nested": {"deep": [true, false]}}',
   '{1,NULL,-3}', '{"a b","c,d","e\\"f",NULL}', '{t,f,NULL}', 'happy',
   '2024-02-29', '23:59:59.999999', '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012-08'),
  (3, -32768, -2147483648, -9007199254740991, -0.000000001, -1.5, -2.2250738585072014e-308, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 1, 1, 1, 1e20, 1.25, 0.1, true, 'x', 'y', 'z', NULL, '[1,2,3]', '"str"',
   '{{1,2},{3,4}}', '{x}', '{t}', 'ok', '0044-03-15', '12:00:00', '1900-01-01 00:00:00', '2038-01-19 03:14:08+00');

CREATE TABLE big_ints (id int8 PRIMARY KEY, v int8);
INSERT INTO big_ints VALUES (9223372036854775807, -9223372036854775808), (1, 9007199254740993);

CREATE TABLE unique_keyed (code text NOT NULL, name text);
CREATE UNIQUE INDEX unique_keyed_code ON unique_keyed (code);
INSERT INTO unique_keyed VALUES ('a', 'alpha'), ('b', NULL);

CREATE TABLE keyless (v text);
INSERT INTO keyless VALUES ('one'), ('two');

CREATE SCHEMA other;
CREATE TABLE other.thing (id int PRIMARY KEY, v text);
`;

const EVERYTHING: Record<string, ColumnKind> = {
  id: 'number',
  i2: 'number',
  i4: 'number',
  i8: 'int8',
  num: 'number',
  f4: 'number',
  f8: 'number',
  b: 'bool',
  t: 'text',
  vc: 'text',
  ch: 'text',
  u: 'text',
  j: 'json',
  jb: 'json',
  ia: 'json',
  ta: 'json',
  ba: 'json',
  m: 'text',
  d: 'date',
  tm: 'time',
  ts: 'timestamp',
  tstz: 'timestamp',
};

describe('initial sync', () => {
  let h: ReplicationHarness;
  beforeAll(async () => {
    h = await startHarness(SETUP);
  });
  afterAll(() => h?.close());

  test('every supported type arrives with the value Postgres computes, NULLs and edge values included', async () => {
    await expectReplicaEqualsUpstream(
      h.db.sql,
      h.replicaFile,
      {upstream: 'everything', replica: 'everything'},
      EVERYTHING,
      ['id'],
    );
  });

  test('int8 values beyond 2^53 are kept exactly', async () => {
    await expectReplicaEqualsUpstream(
      h.db.sql,
      h.replicaFile,
      {upstream: 'big_ints', replica: 'big_ints'},
      {id: 'int8', v: 'int8'},
      ['id'],
    );
  });

  test('a table keyed only by a unique index is replicated, keyed by that index', async () => {
    await expectReplicaEqualsUpstream(
      h.db.sql,
      h.replicaFile,
      {upstream: 'unique_keyed', replica: 'unique_keyed'},
      {code: 'text', name: 'text'},
      ['code'],
    );
    const [row] = await h.db.sql`SELECT relreplident FROM pg_class WHERE relname = 'unique_keyed'`;
    expect(row?.relreplident).toBe('i');
  });

  test('a table with no key is still replicated, not dropped', async () => {
    await expectReplicaEqualsUpstream(
      h.db.sql,
      h.replicaFile,
      {upstream: 'keyless', replica: 'keyless'},
      {v: 'text'},
      ['v'],
    );
  });

  test('the replica records its version, publications, slot, and zero metadata tables', () => {
    const db = new Database(h.replicaFile, {readonly: true});
    try {
      const cfg = db.prepare('SELECT * FROM "_zero.replicationConfig"').get() as {
        replicaVersion: string;
        publications: string;
        slot: string;
      };
      const state = db.prepare('SELECT * FROM "_zero.replicationState"').get() as {
        stateVersion: string;
      };
      expect(JSON.parse(cfg.publications)).toEqual(['_zero_metadata_0', '_zero_public_0']);
      expect(cfg.slot).toMatch(/^zero_0_\d+$/);
      expect(state.stateVersion >= cfg.replicaVersion).toBe(true);
      const tables = (
        db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as {name: string}[]
      ).map((t) => t.name);
      expect(tables).toEqual(
        expect.arrayContaining([
          'zero.schemaVersions',
          'zero.permissions',
          'zero_0.clients',
          'zero_0.mutations',
        ]),
      );
      const types = db.prepare("SELECT name, type FROM pragma_table_info('everything')").all() as {
        name: string;
        type: string;
      }[];
      expect(types).toEqual(
        expect.arrayContaining([
          {name: 'id', type: 'int4|NOT_NULL'},
          {name: 'ta', type: 'text[]|TEXT_ARRAY'},
          {name: 'm', type: 'mood|TEXT_ENUM'},
          {name: '_0_version', type: 'TEXT'},
        ]),
      );
    } finally {
      db.close();
    }
  });

  test('tables outside schema public are named schema.table when published', async () => {
    // Only schema public is in the default publication.
    const db = new Database(h.replicaFile, {readonly: true});
    try {
      expect(
        db.prepare("SELECT name FROM sqlite_master WHERE name = 'other.thing'").get(),
      ).toBeUndefined();
    } finally {
      db.close();
    }
  });
});
