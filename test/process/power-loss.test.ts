import {copyFileSync, existsSync, rmSync} from 'node:fs';
import Database from 'better-sqlite3';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {ChangeLog} from '../../src/change-streamer/index.js';
import {createItemNode, ITEM, type ItemNode} from '../support/item-node.js';
import type {TestDatabase} from '../support/pg.js';
import {waitForReplicaToEqualUpstream, type ZcacheNode} from '../support/zcache-process.js';

/**
 * What a power loss can leave behind: a replica file older than what zcache had applied (its last
 * commits never reached the disk), possibly older than what the change log still holds after
 * purging. zcache must notice on restart and recover on its own — never resume across the gap.
 */

let db: TestDatabase;
let node: ZcacheNode;
let fixture: ItemNode | undefined;
beforeEach(async () => {
  fixture = await createItemNode('power_loss', 200);
  ({db, node} = fixture);
});
afterEach(async () => {
  await fixture?.close();
});

/** A consistent copy of the replica as it is now (SQLite's online backup). */
async function copyReplica(to: string): Promise<void> {
  const source = new Database(node.replicaFile, {readonly: true});
  try {
    await source.backup(to);
  } finally {
    source.close();
  }
}

function replaceReplica(withCopy: string): void {
  for (const suffix of ['-wal', '-shm']) {
    const f = node.replicaFile + suffix;
    if (existsSync(f)) rmSync(f);
  }
  copyFileSync(withCopy, node.replicaFile);
}

test('a replica rolled back past what the change log still holds is resynced, and ends equal to upstream', async () => {
  const first = await node.startAndWaitStreaming();
  await db.sql`UPDATE item SET v = 'early' WHERE id <= 20`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
  const older = `${node.dir}/older-replica.db`;
  await copyReplica(older);

  // Changes the older copy lacks: inserts, updates and deletes.
  await db.sql`INSERT INTO item SELECT g, 'late' || g FROM generate_series(1001, 1100) g`;
  await db.sql`UPDATE item SET v = 'late' WHERE id BETWEEN 21 AND 60`;
  await db.sql`DELETE FROM item WHERE id BETWEEN 61 AND 90`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
  // The change log purged behind the replica (as it does once the replica has made them durable).
  const changeLog = new ChangeLog(db.sql, {appID: 'zero', shardNum: 0});
  await changeLog.purgeBefore((await changeLog.state())!.lastWatermark);

  // The power goes: the process dies, and the disk holds the older replica.
  await first.kill();
  replaceReplica(older);

  const second = await node.startAndWaitStreaming();
  expect(
    second.lines.some((l) => /older than the change log reaches back/.test(l)),
    second.describe(),
  ).toBe(true);
  expect(second.lines.some((l) => /resuming replica/.test(l))).toBe(false);
  await db.sql`INSERT INTO item VALUES (5000, 'after recovery')`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
});

test('a replica rolled back to a state the change log still covers resumes and catches up', async () => {
  const first = await node.startAndWaitStreaming();
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
  const older = `${node.dir}/older-replica.db`;
  await copyReplica(older);
  await db.sql`UPDATE item SET v = 'late' WHERE id BETWEEN 21 AND 60`;
  await db.sql`DELETE FROM item WHERE id BETWEEN 61 AND 90`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);

  await first.kill();
  replaceReplica(older);

  const second = await node.startAndWaitStreaming();
  expect(
    second.lines.some((l) => /resuming replica/.test(l)),
    second.describe(),
  ).toBe(true);
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
});
