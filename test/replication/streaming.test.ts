import Database from 'better-sqlite3';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {expectReplicaEqualsUpstream, type ColumnKind} from '../support/replica-compare.js';
import {startHarness, type ReplicationHarness} from './harness.js';

const SETUP = `
CREATE TABLE item (id int PRIMARY KEY, name text, qty int8, tags text[], meta jsonb, at timestamptz);
CREATE TABLE moved (id int PRIMARY KEY, v text);
CREATE TABLE wiped (id int PRIMARY KEY, v text);
CREATE TABLE bulk (id int PRIMARY KEY, v text, n int);
CREATE TABLE coded (code text NOT NULL, v text);
CREATE UNIQUE INDEX coded_code ON coded (code);
CREATE TABLE full_identity (id int PRIMARY KEY, v text);
ALTER TABLE full_identity REPLICA IDENTITY FULL;
CREATE TABLE toasty (id int PRIMARY KEY, big text, small int);
CREATE TABLE shape (id int PRIMARY KEY, a text, b int);
INSERT INTO shape VALUES (1, 'x', 1), (2, 'y', 2);
`;

const ITEM: Record<string, ColumnKind> = {
  id: 'number',
  name: 'text',
  qty: 'int8',
  tags: 'json',
  meta: 'json',
  at: 'timestamp',
};

function replicaQuery<T>(h: ReplicationHarness, sql: string, ...params: unknown[]): T[] {
  const db = new Database(h.replicaFile, {readonly: true});
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

describe('streaming replication', () => {
  let h: ReplicationHarness;
  beforeAll(async () => {
    h = await startHarness(SETUP);
  });
  afterAll(() => h?.close());

  const same = (table: string, cols: Record<string, ColumnKind>, key = ['id']) =>
    eventually(() =>
      expectReplicaEqualsUpstream(
        h.db.sql,
        h.replicaFile,
        {upstream: table, replica: table},
        cols,
        key,
      ),
    );

  test('inserts, updates and deletes reach the replica', async () => {
    await h.db
      .sql`INSERT INTO item VALUES (1, 'a', 9007199254740993, '{x,y}', '{"k": 1}', '2024-01-01T00:00:00.5Z'), (2, 'b', 2, NULL, NULL, NULL)`;
    await h.db.sql`UPDATE item SET name = 'A', meta = '{"k": [2]}' WHERE id = 1`;
    await h.db.sql`DELETE FROM item WHERE id = 2`;
    await h.db.sql`INSERT INTO item VALUES (3, 'c', -1, '{}', 'null', now())`;
    await same('item', ITEM);
  });

  test('an update that changes the primary key moves the row, recording both keys', async () => {
    await h.db.sql`INSERT INTO moved VALUES (1, 'one'), (2, 'two')`;
    await h.db.sql`UPDATE moved SET id = 10, v = 'ten' WHERE id = 1`;
    await same('moved', {id: 'number', v: 'text'});
    const changes = replicaQuery<{op: string; rowKey: string; oldRow: string | null}>(
      h,
      `SELECT op, rowKey, oldRow FROM "_zero.rowChanges" WHERE "table" = 'moved' ORDER BY seq`,
    );
    // Earlier versions may be purged already; the last two entries are the move.
    const last = changes.slice(-2);
    expect(last.map((c) => [c.op, c.rowKey])).toEqual([
      ['d', '{"id":1}'],
      ['s', '{"id":10}'],
    ]);
    expect(JSON.parse(last[0]!.oldRow!)).toMatchObject({id: 1, v: 'one'});
    expect(last[1]!.oldRow).toBeNull();
  });

  test('truncate empties the replica table', async () => {
    await h.db.sql`INSERT INTO wiped SELECT g, 'v' || g FROM generate_series(1, 50) g`;
    await same('wiped', {id: 'number', v: 'text'});
    await h.db.sql`TRUNCATE wiped`;
    await h.db.sql`INSERT INTO wiped VALUES (7, 'after')`;
    await same('wiped', {id: 'number', v: 'text'});
  });

  test('a transaction of 100k rows arrives whole', async () => {
    await h.db.sql`INSERT INTO bulk SELECT g, md5(g::text), g FROM generate_series(1, 100000) g`;
    await h.db.sql`UPDATE bulk SET n = n + 1 WHERE id % 3 = 0`;
    await eventually(
      () =>
        expectReplicaEqualsUpstream(
          h.db.sql,
          h.replicaFile,
          {upstream: 'bulk', replica: 'bulk'},
          {id: 'number', v: 'text', n: 'number'},
          ['id'],
        ),
      60_000,
    );
  }, 120_000);

  test('a table keyed by a unique index takes updates and deletes', async () => {
    await h.db.sql`INSERT INTO coded VALUES ('a', '1'), ('b', '2'), ('c', '3')`;
    await h.db.sql`UPDATE coded SET v = 'two' WHERE code = 'b'`;
    await h.db.sql`UPDATE coded SET code = 'z' WHERE code = 'c'`;
    await h.db.sql`DELETE FROM coded WHERE code = 'a'`;
    await same('coded', {code: 'text', v: 'text'}, ['code']);
  });

  test('a table with REPLICA IDENTITY FULL takes updates and deletes', async () => {
    await h.db.sql`INSERT INTO full_identity VALUES (1, 'a'), (2, 'b')`;
    await h.db.sql`UPDATE full_identity SET v = 'A' WHERE id = 1`;
    await h.db.sql`UPDATE full_identity SET id = 3 WHERE id = 2`;
    await h.db.sql`DELETE FROM full_identity WHERE id = 1`;
    await same('full_identity', {id: 'number', v: 'text'});
  });

  test('an unchanged TOASTed value survives an update of another column', async () => {
    const big = 'x'.repeat(100_000) + Math.random();
    await h.db.sql`INSERT INTO toasty VALUES (1, ${big}, 1)`;
    await h.db.sql`UPDATE toasty SET small = 2 WHERE id = 1`;
    await h.db.sql`UPDATE toasty SET id = 5 WHERE id = 1`;
    await same('toasty', {id: 'number', big: 'text', small: 'number'});
  });

  test('columns added, renamed, retyped and dropped upstream change the replica table', async () => {
    await h.db.sql`ALTER TABLE shape ADD COLUMN c text DEFAULT 'dflt'`;
    await h.db.sql`ALTER TABLE shape ADD COLUMN d int`;
    await h.db.sql`INSERT INTO shape VALUES (3, 'z', 3, 'given', 4)`;
    await same('shape', {id: 'number', a: 'text', b: 'number', c: 'text', d: 'number'});
    await h.db.sql`ALTER TABLE shape RENAME COLUMN a TO a2`;
    await h.db.sql`ALTER TABLE shape ALTER COLUMN b TYPE int8`;
    await h.db.sql`ALTER TABLE shape DROP COLUMN d`;
    await h.db.sql`UPDATE shape SET b = 9007199254740993 WHERE id = 2`;
    await same('shape', {id: 'number', a2: 'text', b: 'int8', c: 'text'});
    const cols = replicaQuery<{name: string; type: string}>(
      h,
      `SELECT name, type FROM pragma_table_info('shape')`,
    );
    expect(cols.map((c) => c.name).sort()).toEqual(['_0_version', 'a2', 'b', 'c', 'id']);
    expect(cols.find((c) => c.name === 'b')?.type).toBe('int8');
  });

  test('tables created, renamed and dropped upstream are created, renamed and dropped', async () => {
    await h.db.sql.unsafe(
      `CREATE TABLE fresh (id int PRIMARY KEY, v text); INSERT INTO fresh VALUES (1, 'new')`,
    );
    await same('fresh', {id: 'number', v: 'text'});
    await h.db.sql`CREATE INDEX fresh_v ON fresh (v)`;
    await h.db.sql`ALTER TABLE fresh RENAME TO renamed`;
    await h.db.sql`INSERT INTO renamed VALUES (2, 'more')`;
    await same('renamed', {id: 'number', v: 'text'});
    const idx = replicaQuery<{name: string}>(
      h,
      `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'renamed'`,
    );
    expect(idx.map((i) => i.name)).toContain('fresh_v');
    await h.db.sql`DROP TABLE renamed`;
    await eventually(() => {
      expect(
        replicaQuery(h, `SELECT name FROM sqlite_master WHERE name IN ('fresh', 'renamed')`),
      ).toEqual([]);
    });
  });
});
