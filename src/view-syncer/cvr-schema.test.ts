import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../../test/support/pg.js';
import {CVR_SCHEMA_VERSION, cvrSchemaName, ensureCVRSchema} from './cvr-schema.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('cvr_schema');
});
afterAll(async () => {
  await db.drop();
});

async function tablesOf(schema: string): Promise<string[]> {
  const rows = await db.sql<{table_name: string}[]>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema}
    ORDER BY table_name`;
  return rows.map((r) => r.table_name);
}

async function storedVersion(schema: string): Promise<number> {
  const [row] = await db.sql.unsafe<{version: number}[]>(
    `SELECT "version" FROM "${schema}"."schemaVersion"`,
  );
  return row!.version;
}

describe('ensureCVRSchema', () => {
  test('creates the CVR tables in schema "{app}_{shard}/cvr" and records their schema version', async () => {
    const shard = {appID: 'zero', shardNum: 0};
    expect(cvrSchemaName(shard)).toBe('zero_0/cvr');

    const before = await ensureCVRSchema(db.sql, shard);

    expect(before).toBe(0);
    expect(await tablesOf('zero_0/cvr')).toEqual([
      'clients',
      'desires',
      'instances',
      'queries',
      'rows',
      'rowsVersion',
      'schemaVersion',
    ]);
    expect(CVR_SCHEMA_VERSION).toBe(4);
    expect(await storedVersion('zero_0/cvr')).toBe(4);
  });

  test('is idempotent: a second call finds the tables current and keeps their contents', async () => {
    const shard = {appID: 'again', shardNum: 1};
    await ensureCVRSchema(db.sql, shard);
    await db.sql.unsafe(`INSERT INTO "again_1/cvr".instances ("clientGroupID", "version",
      "lastActive") VALUES ('cg', '00', now())`);

    const before = await ensureCVRSchema(db.sql, shard);

    expect(before).toBe(4);
    const rows = await db.sql.unsafe(`SELECT "clientGroupID" FROM "again_1/cvr".instances`);
    expect(rows.map((r) => r.clientGroupID)).toEqual(['cg']);
  });

  test('runs safely from several processes starting at once', async () => {
    const shard = {appID: 'racing', shardNum: 2};
    const results = await Promise.all([1, 2, 3].map(() => ensureCVRSchema(db.sql, shard)));
    expect(results.sort()).toEqual([0, CVR_SCHEMA_VERSION, CVR_SCHEMA_VERSION]);
  });

  test('refuses tables written by a newer version of the CVR schema', async () => {
    const shard = {appID: 'future', shardNum: 0};
    await ensureCVRSchema(db.sql, shard);
    await db.sql.unsafe(`UPDATE "future_0/cvr"."schemaVersion" SET "version" = 99`);

    await expect(ensureCVRSchema(db.sql, shard)).rejects.toThrow(
      /at version 99, newer than this zcache supports \(4\)/,
    );
  });

  test('upgrades version 1 tables: instances gain a principal column and keep their rows', async () => {
    const shard = {appID: 'olderv', shardNum: 0};
    await ensureCVRSchema(db.sql, shard);
    // Back to version 1, as an older zcache left it.
    await db.sql.unsafe(`ALTER TABLE "olderv_0/cvr".instances DROP COLUMN "principal";
      ALTER TABLE "olderv_0/cvr".instances DROP COLUMN "queriesPurgedThrough";
      ALTER TABLE "olderv_0/cvr".instances DROP COLUMN "handedOutCeiling";
      ALTER TABLE "olderv_0/cvr".instances DROP COLUMN "lostRanges";
      UPDATE "olderv_0/cvr"."schemaVersion" SET "version" = 1;
      INSERT INTO "olderv_0/cvr".instances ("clientGroupID", "version", "lastActive")
        VALUES ('cg', '00', now())`);

    const before = await ensureCVRSchema(db.sql, shard);

    expect(before).toBe(1);
    const rows = await db.sql.unsafe(
      `SELECT "clientGroupID", "principal" FROM "olderv_0/cvr".instances`,
    );
    expect(rows).toEqual([{clientGroupID: 'cg', principal: null}]);
  });

  test('upgrades version 2 tables: instances gain queriesPurgedThrough and keep their rows', async () => {
    const shard = {appID: 'olderv2', shardNum: 0};
    await ensureCVRSchema(db.sql, shard);
    await db.sql.unsafe(`ALTER TABLE "olderv2_0/cvr".instances DROP COLUMN "queriesPurgedThrough";
      ALTER TABLE "olderv2_0/cvr".instances DROP COLUMN "handedOutCeiling";
      ALTER TABLE "olderv2_0/cvr".instances DROP COLUMN "lostRanges";
      UPDATE "olderv2_0/cvr"."schemaVersion" SET "version" = 2;
      INSERT INTO "olderv2_0/cvr".instances ("clientGroupID", "version", "lastActive", "principal")
        VALUES ('cg', '00', now(), 'p')`);

    expect(await ensureCVRSchema(db.sql, shard)).toBe(2);
    const rows = await db.sql.unsafe(
      `SELECT "principal", "queriesPurgedThrough" FROM "olderv2_0/cvr".instances`,
    );
    expect(rows).toEqual([{principal: 'p', queriesPurgedThrough: null}]);
  });
});
