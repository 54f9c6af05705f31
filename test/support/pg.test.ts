import {afterAll, beforeAll, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from './pg.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('support');
});
afterAll(() => db.drop());

test('the test cluster runs with logical WAL', async () => {
  const [row] = await db.sql`SHOW wal_level`;
  expect(row?.wal_level).toBe('logical');
});
