import {afterAll, beforeAll, beforeEach, expect, test} from 'vitest';
import {ChangeLog} from '../../src/change-streamer/change-log.js';
import {ChangeLogPurger} from '../../src/change-streamer/change-log-purger.js';
import type {LexiVersion} from '../../src/shared/lexi-version.js';
import {versionToLexi} from '../../src/shared/lexi-version.js';
import {silentLogger} from '../../src/shared/log.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';

/**
 * A replication-manager's change log is purged only behind what every consumer has: the newest
 * backup (what a restoring view-syncer starts from), what its own replica holds durably, and
 * every connected subscriber's acked watermark; an open snapshot reservation, or no backup yet,
 * holds everything.
 */
const wm = (n: number) => versionToLexi(100 + n);
let db: TestDatabase;
let log: ChangeLog;
let backup: LexiVersion | undefined;
let needed: LexiVersion | null | undefined;
let durable: LexiVersion | undefined;
let retained: LexiVersion | undefined;
let purger: ChangeLogPurger;

beforeAll(async () => {
  db = await createTestDatabase('change_log_purger');
  log = new ChangeLog(db.sql, {appID: 'zero', shardNum: 0});
  await log.ensureTables();
  purger = new ChangeLogPurger(
    log,
    {
      latestBackup: () => backup,
      oldestNeeded: () => needed,
      replicaDurable: () => durable,
      retained: () => retained,
    },
    silentLogger,
    3_600_000,
  );
});

afterAll(async () => {
  purger.stop();
  await db?.drop();
});

beforeEach(async () => {
  await log.reset(versionToLexi(100), ['p'], 'task');
  await log.storeMany([1, 2, 3, 4, 5].map((n) => ({watermark: wm(n), changes: []})));
  durable = wm(5);
  retained = wm(5);
});

async function stored(): Promise<string[]> {
  const rows = await db.sql`SELECT DISTINCT "watermark" FROM "zero_0/cdc"."changeLog" ORDER BY 1`;
  return rows.map((r) => r.watermark as string);
}

test('nothing is purged before the first backup', async () => {
  [backup, needed] = [undefined, null];
  expect(await purger.purgeNow()).toBe(0);
  expect(await stored()).toHaveLength(5);
});

test('with no subscriber, the log is purged up to the newest backup, which stays', async () => {
  [backup, needed] = [wm(3), null];
  await purger.purgeNow();
  expect(await stored()).toEqual([wm(3), wm(4), wm(5)]);
  expect(await log.coversAfter(wm(3))).toBe(true);
  expect(await log.coversAfter(wm(1))).toBe(false);
});

test('a subscriber behind the backup holds the log back to its acked watermark', async () => {
  [backup, needed] = [wm(4), wm(2)];
  await purger.purgeNow();
  expect(await stored()).toEqual([wm(2), wm(3), wm(4), wm(5)]);
});

test('an open snapshot reservation holds everything', async () => {
  [backup, needed] = [wm(5), undefined];
  expect(await purger.purgeNow()).toBe(0);
  expect(await stored()).toHaveLength(5);
});

test("the manager's replica holds the log back to what it holds durably (a power loss may take the rest)", async () => {
  [backup, needed, durable] = [wm(4), null, wm(2)];
  await purger.purgeNow();
  expect(await stored()).toEqual([wm(2), wm(3), wm(4), wm(5)]);
});

test('nothing is purged before the replica has made anything durable', async () => {
  [backup, needed, durable] = [wm(4), null, undefined];
  expect(await purger.purgeNow()).toBe(0);
});

test('a read of the log from before what was purged fails instead of skipping transactions', async () => {
  [backup, needed] = [wm(3), null];
  await purger.purgeNow();
  const read = async () => {
    for await (const _ of log.readAfter(wm(1))) void _;
  };
  await expect(read()).rejects.toThrow(/purged through .* not resumed across the gap/);
});

test('a view-syncer away for less than the retention period still finds its changes', async () => {
  [backup, needed, retained] = [wm(4), null, wm(2)];
  await purger.purgeNow();
  expect(await stored()).toEqual([wm(2), wm(3), wm(4), wm(5)]);
});
