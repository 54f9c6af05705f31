import postgres from 'postgres';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../../test/support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../../test/support/pg.js';
import {isConnectionLoss} from './connection-loss.js';
import {inTransaction} from './pg-transaction.js';

let db: TestDatabase;
let sql: postgres.Sql;

beforeAll(async () => {
  db = await createTestDatabase('pg_transaction');
  await db.sql`CREATE TABLE t (id int PRIMARY KEY)`;
  sql = postgres(db.url, {max: 1, onnotice: () => {}});
});

afterAll(async () => {
  await sql?.end({timeout: 1});
  await db?.drop();
});

const ids = async () => (await db.sql`SELECT id FROM t ORDER BY id`).map((r) => r.id as number);

test('work that settles is committed, and its result returned', async () => {
  const r = await inTransaction(sql, 'test', 'ISOLATION LEVEL READ COMMITTED', async (tx) => {
    await tx`INSERT INTO t VALUES (1)`;
    return 'done';
  });
  expect(r).toBe('done');
  expect(await ids()).toContain(1);
});

test('work that fails is rolled back and its error kept', async () => {
  const own = new Error('check failed');
  await expect(
    inTransaction(sql, 'test', '', async (tx) => {
      await tx`INSERT INTO t VALUES (2)`;
      throw own;
    }),
  ).rejects.toBe(own);
  expect(await ids()).not.toContain(2);
});

test('a connection Postgres closes mid-transaction fails it, and the pool goes on serving', async () => {
  // The pool's one connection is terminated inside the transaction. `sql.begin` sends ROLLBACK
  // on it, which postgres.js 3.4.9 writes to the closed socket: this test then hangs.
  const e = await inTransaction(sql, 'test', '', async (tx) => {
    await tx`INSERT INTO t VALUES (3)`;
    const [row] = await tx<{pid: number}[]>`SELECT pg_backend_pid() AS pid`;
    await db.sql`SELECT pg_terminate_backend(${row!.pid})`;
    await tx`INSERT INTO t VALUES (4)`;
  }).catch((err: unknown) => err);
  expect(isConnectionLoss(e), String(e)).toBe(true);
  expect(await ids()).not.toContain(3);
  // The terminated session's FATAL can still reach the next query (postgres.js reuses the
  // connection object): what counts is that the pool serves again, and nothing hangs.
  await eventually(async () => {
    const rows = await sql<{n: number}[]>`SELECT 41 + 1 AS n`;
    expect(rows[0]?.n).toBe(42);
  });
  await inTransaction(sql, 'test', '', (tx) => tx`INSERT INTO t VALUES (5)`.then(() => {}));
  expect(await ids()).toContain(5);
});
