import type postgres from 'postgres';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../../../test/support/pg.js';
import {lsnToBigInt} from '../../shared/lsn.js';
import {
  decodeCopyBothFrame,
  decodePgoutput,
  encodeStandbyStatusUpdate,
  pgMicrosToDate,
  UNCHANGED_TOAST,
  type PgoutputMessage,
} from './decoder.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('pgoutput_dec');
  await db.sql.unsafe(`
    CREATE TABLE items (id int PRIMARY KEY, name text, note text);
    CREATE TABLE full_items (id int PRIMARY KEY, name text);
    ALTER TABLE full_items REPLICA IDENTITY FULL;
    CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
    ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE TABLE scratch_a (id serial PRIMARY KEY);
    CREATE TABLE scratch_b (id int PRIMARY KEY);
    CREATE PUBLICATION pub FOR TABLE items, full_items, docs, scratch_a, scratch_b;
  `);
});

afterAll(async () => {
  await db?.drop();
});

let slotCount = 0;

/**
 * Runs `changes` in one transaction with a fresh slot, then decodes what Postgres produced for them.
 * The commit is synchronous because SQL decoding reads only flushed WAL and the test cluster runs
 * with synchronous_commit off.
 */
async function decodedChangesOf(
  changes: (tx: postgres.TransactionSql) => Promise<unknown>,
): Promise<PgoutputMessage[]> {
  const slot = `dec_${++slotCount}`;
  await db.sql`SELECT pg_create_logical_replication_slot(${slot}, 'pgoutput')`;
  try {
    await db.sql.begin(async (tx) => {
      await tx`SET LOCAL synchronous_commit = on`;
      await changes(tx);
    });
    const rows = await db.sql<{data: Buffer}[]>`
      SELECT data FROM pg_logical_slot_get_binary_changes(${slot}, NULL, NULL,
        'proto_version', '1', 'publication_names', 'pub', 'messages', 'true')`;
    return rows.map((r) => decodePgoutput(r.data));
  } finally {
    await db.sql`SELECT pg_drop_replication_slot(${slot})`;
  }
}

function dataMessages(messages: PgoutputMessage[]): PgoutputMessage[] {
  return messages.filter((m) => !['begin', 'commit', 'relation'].includes(m.tag));
}

describe('decodePgoutput on bytes from Postgres', () => {
  test('a transaction decodes as begin, relation, insert, commit with matching LSNs', async () => {
    const before = Date.now();
    const messages = await decodedChangesOf(
      (tx) => tx`INSERT INTO items (id, name, note) VALUES (1, 'one', NULL)`,
    );
    expect(messages.map((m) => m.tag)).toEqual(['begin', 'relation', 'insert', 'commit']);
    const [begin, , , commit] = messages;
    if (begin?.tag !== 'begin' || commit?.tag !== 'commit') throw new Error('unreachable');
    expect(begin.finalLsn).toBe(commit.commitLsn);
    expect(commit.endLsn).toBeGreaterThan(commit.commitLsn);
    expect(begin.commitTime).toBe(commit.commitTime);
    const committedAt = pgMicrosToDate(commit.commitTime).getTime();
    expect(committedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(committedAt).toBeLessThanOrEqual(Date.now() + 1000);
    expect(begin.xid).toBeGreaterThan(0);
  });

  test('relation describes schema, name, identity and key columns', async () => {
    const messages = await decodedChangesOf(
      (tx) => tx`INSERT INTO full_items (id, name) VALUES (1, 'x')`,
    );
    const [oid] = await db.sql<{oid: number}[]>`SELECT 'full_items'::regclass::oid AS oid`;
    expect(messages.find((m) => m.tag === 'relation')).toEqual({
      tag: 'relation',
      relationOid: oid!.oid,
      schema: 'public',
      name: 'full_items',
      replicaIdentity: 'f',
      columns: [
        {flags: 1, isKey: true, name: 'id', typeOid: 23, typeMod: -1},
        {flags: 1, isKey: true, name: 'name', typeOid: 25, typeMod: -1},
      ],
    });
  });

  test('insert carries text values and NULLs', async () => {
    const messages = await decodedChangesOf(
      (tx) => tx`INSERT INTO items (id, name, note) VALUES (2, 'zwei ü', NULL)`,
    );
    const [oid] = await db.sql<{oid: number}[]>`SELECT 'items'::regclass::oid AS oid`;
    expect(dataMessages(messages)).toEqual([
      {tag: 'insert', relationOid: oid!.oid, new: ['2', 'zwei ü', null]},
    ]);
  });

  test('update without a key change has neither key nor old tuple', async () => {
    await db.sql`INSERT INTO items (id, name) VALUES (3, 'three')`;
    const messages = await decodedChangesOf(
      (tx) => tx`UPDATE items SET name = 'drei' WHERE id = 3`,
    );
    expect(dataMessages(messages)).toMatchObject([
      {tag: 'update', key: null, old: null, new: ['3', 'drei', null]},
    ]);
  });

  test('update of the primary key with REPLICA IDENTITY DEFAULT sends the old key', async () => {
    await db.sql`INSERT INTO items (id, name, note) VALUES (4, 'four', 'n')`;
    const messages = await decodedChangesOf((tx) => tx`UPDATE items SET id = 40 WHERE id = 4`);
    expect(dataMessages(messages)).toMatchObject([
      {tag: 'update', key: ['4', null, null], old: null, new: ['40', 'four', 'n']},
    ]);
  });

  test('update with REPLICA IDENTITY FULL sends the whole old row', async () => {
    await db.sql`INSERT INTO full_items (id, name) VALUES (5, 'five')`;
    const messages = await decodedChangesOf(
      (tx) => tx`UPDATE full_items SET id = 50, name = 'fifty' WHERE id = 5`,
    );
    expect(dataMessages(messages)).toMatchObject([
      {tag: 'update', key: null, old: ['5', 'five'], new: ['50', 'fifty']},
    ]);
  });

  test('delete sends the key with REPLICA IDENTITY DEFAULT', async () => {
    await db.sql`INSERT INTO items (id, name) VALUES (6, 'six')`;
    const messages = await decodedChangesOf((tx) => tx`DELETE FROM items WHERE id = 6`);
    expect(dataMessages(messages)).toMatchObject([
      {tag: 'delete', key: ['6', null, null], old: null},
    ]);
  });

  test('delete sends the old row with REPLICA IDENTITY FULL', async () => {
    await db.sql`INSERT INTO full_items (id, name) VALUES (7, 'seven')`;
    const messages = await decodedChangesOf((tx) => tx`DELETE FROM full_items WHERE id = 7`);
    expect(dataMessages(messages)).toMatchObject([{tag: 'delete', key: null, old: ['7', 'seven']}]);
  });

  test('truncate lists the relations and its options', async () => {
    const [a] = await db.sql<{oid: number}[]>`SELECT 'scratch_a'::regclass::oid AS oid`;
    const [b] = await db.sql<{oid: number}[]>`SELECT 'scratch_b'::regclass::oid AS oid`;
    const messages = await decodedChangesOf(
      (tx) => tx`TRUNCATE scratch_a, scratch_b RESTART IDENTITY CASCADE`,
    );
    const truncate = dataMessages(messages)[0];
    expect(truncate).toMatchObject({tag: 'truncate', cascade: true, restartIdentity: true});
    if (truncate?.tag !== 'truncate') throw new Error('unreachable');
    expect([...truncate.relationOids].sort()).toEqual([a!.oid, b!.oid].sort());
  });

  test('a transactional logical message carries prefix and content', async () => {
    const messages = await decodedChangesOf(
      (tx) => tx`SELECT pg_logical_emit_message(true, 'zero/0', '{"x":1}')`,
    );
    expect(messages.map((m) => m.tag)).toEqual(['begin', 'message', 'commit']);
    const message = messages[1];
    if (message?.tag !== 'message') throw new Error('unreachable');
    expect(message).toMatchObject({tag: 'message', transactional: true, prefix: 'zero/0'});
    expect(message.content.toString('utf8')).toBe('{"x":1}');
    expect(message.lsn).toBeGreaterThan(0n);
  });

  test('an unchanged TOASTed value is reported as unchanged, not as its text', async () => {
    await db.sql`INSERT INTO docs (id, title, body) VALUES (1, 'a', repeat('0123456789', 10000))`;
    const messages = await decodedChangesOf((tx) => tx`UPDATE docs SET title = 'b' WHERE id = 1`);
    expect(dataMessages(messages)).toEqual([
      expect.objectContaining({tag: 'update', new: ['1', 'b', UNCHANGED_TOAST]}),
    ]);
  });
});

describe('decodePgoutput on malformed input', () => {
  test('an unknown message type names the byte', () => {
    expect(() => decodePgoutput(Buffer.from('Z'))).toThrow(
      /unknown message type byte 0x5a \('Z'\)/,
    );
  });

  test('a binary column value is rejected with a clear error', () => {
    const insert = Buffer.concat([
      Buffer.from('I'),
      Buffer.from([0, 0, 0, 1]), // relation oid
      Buffer.from('N'),
      Buffer.from([0, 1]), // one column
      Buffer.from('b'),
      Buffer.from([0, 0, 0, 1, 7]),
    ]);
    expect(() => decodePgoutput(insert)).toThrow(/binary format, which is not supported/);
  });

  test('a truncated message says it is truncated', () => {
    expect(() => decodePgoutput(Buffer.from([0x42, 0, 0]))).toThrow(
      /pgoutput 'B' message: truncated/,
    );
  });
});

describe('streaming replication frames', () => {
  test('an XLogData frame decodes its positions, clock and payload', () => {
    const xlog = Buffer.alloc(25 + 3);
    xlog.write('w', 0, 'latin1');
    xlog.writeBigUInt64BE(lsnToBigInt('1/10'), 1);
    xlog.writeBigUInt64BE(lsnToBigInt('1/20'), 9);
    xlog.writeBigInt64BE(5n, 17);
    xlog.write('abc', 25, 'latin1');
    expect(decodeCopyBothFrame(xlog)).toEqual({
      tag: 'xlogdata',
      walStart: 0x1_0000_0010n,
      walEnd: 0x1_0000_0020n,
      serverClock: 5n,
      payload: Buffer.from('abc'),
    });
  });

  test('a primary keepalive frame decodes its reply request', () => {
    const keepalive = Buffer.alloc(18);
    keepalive.write('k', 0, 'latin1');
    keepalive.writeBigUInt64BE(42n, 1);
    keepalive.writeUInt8(1, 17);
    expect(decodeCopyBothFrame(keepalive)).toEqual({
      tag: 'keepalive',
      walEnd: 42n,
      serverClock: 0n,
      replyRequested: true,
    });
  });

  test('a standby status update encodes three LSNs, the clock and the reply flag', () => {
    const status = encodeStandbyStatusUpdate(
      1n,
      2n,
      3n,
      true,
      new Date(Date.UTC(2000, 0, 1, 0, 0, 1)),
    );
    expect(status.length).toBe(34);
    expect(status.toString('latin1', 0, 1)).toBe('r');
    expect([1, 9, 17].map((o) => status.readBigUInt64BE(o))).toEqual([1n, 2n, 3n]);
    expect(status.readBigInt64BE(25)).toBe(1_000_000n);
    expect(status[33]).toBe(1);
  });
});
