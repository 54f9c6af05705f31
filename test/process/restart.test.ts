import {existsSync, rmSync, statSync} from 'node:fs';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {createItemNode, ITEM, type ItemNode} from '../support/item-node.js';
import type {TestDatabase} from '../support/pg.js';
import {
  replicaConfig,
  upstreamPosition,
  waitForReplicaToEqualUpstream,
  waitForStateVersion,
  type ZcacheNode,
} from '../support/zcache-process.js';

/**
 * Stopping and starting zcache as an operator does: SIGTERM and start again resumes from the
 * replica and the same slot; a deleted replica is rebuilt by a fresh initial sync on a new slot;
 * and under a stream of small transactions the replica's WAL file stays bounded.
 */

let db: TestDatabase;
let node: ZcacheNode;
let fixture: ItemNode | undefined;
beforeEach(async () => {
  fixture = await createItemNode('restart', 100);
  ({db, node} = fixture);
});
afterEach(async () => {
  await fixture?.close();
});

async function shardSlots(): Promise<string[]> {
  const rows = await db.sql<{slot_name: string}[]>`
    SELECT slot_name FROM pg_replication_slots WHERE database = current_database() ORDER BY 1`;
  return rows.map((r) => r.slot_name);
}

test('after SIGTERM, a restart resumes on the same slot without a second initial sync, and replicates later writes', async () => {
  const first = await node.startAndWaitStreaming();
  expect(first.lines.filter((l) => /initial sync: no replica yet/.test(l))).toHaveLength(1);
  const slot = replicaConfig(node.replicaFile)!.slot;
  await db.sql`UPDATE item SET v = 'before stop' WHERE id <= 10`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);

  first.signal('SIGTERM');
  await first.waitForExit(15_000);
  // Written while zcache is down: streamed from the slot on the next start.
  await db.sql`INSERT INTO item VALUES (1001, 'while stopped')`;
  await db.sql`UPDATE item SET id = 2001 WHERE id = 20`;
  await db.sql`DELETE FROM item WHERE id BETWEEN 30 AND 39`;

  const second = await node.startAndWaitStreaming();
  expect(
    second.lines.filter((l) => /initial sync/.test(l)),
    second.describe(),
  ).toEqual([]);
  expect(second.lines.some((l) => l.includes(`resuming replica ${node.replicaFile}`))).toBe(true);
  expect(second.lines.some((l) => l.includes(`(slot ${slot})`))).toBe(true);
  expect(replicaConfig(node.replicaFile)!.slot).toBe(slot);
  expect(await shardSlots()).toEqual([slot]);

  await db.sql`INSERT INTO item VALUES (1002, 'after restart')`;
  await db.sql`UPDATE item SET v = 'after restart' WHERE id BETWEEN 40 AND 49`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
});

test('SIGTERM stops zcache cleanly: it closes its replication stream and exits with code 0', async () => {
  const proc = await node.startAndWaitStreaming();
  proc.signal('SIGTERM');
  const exit = await proc.waitForExit(15_000);
  expect(exit, proc.describe()).toEqual({code: 0, signal: null});
  expect(
    proc.lines.some((l) => /closed slot "[^"]+"/.test(l)),
    proc.describe(),
  ).toBe(true);
});

test('deleting the replica file while stopped makes the next start sync afresh on a new slot, dropping the old one', async () => {
  const first = await node.startAndWaitStreaming();
  const oldSlot = replicaConfig(node.replicaFile)!.slot;
  first.signal('SIGTERM');
  await first.waitForExit(15_000);
  for (const f of [node.replicaFile, `${node.replicaFile}-wal`, `${node.replicaFile}-shm`]) {
    rmSync(f, {force: true});
  }
  await db.sql`UPDATE item SET v = 'changed while the replica was gone' WHERE id % 3 = 0`;
  await db.sql`INSERT INTO item VALUES (5000, 'new while gone')`;

  const second = await node.startAndWaitStreaming();
  expect(
    second.lines.some((l) => /initial sync: no replica yet/.test(l)),
    second.describe(),
  ).toBe(true);
  const newConfig = replicaConfig(node.replicaFile)!;
  expect(newConfig.slot).not.toBe(oldSlot);
  expect(await shardSlots()).toEqual([newConfig.slot]);
  // The change log starts afresh for the new replica.
  const [cl] = await db.sql<{replicaVersion: string}[]>`
    SELECT "replicaVersion" FROM "zero_0/cdc"."replicationConfig"`;
  expect(cl!.replicaVersion).toBe(newConfig.replicaVersion);

  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
  await db.sql`DELETE FROM item WHERE id < 10`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
});

/**
 * Measured without checkpoints (a reader holding a snapshot open the whole time, so the WAL can
 * never be reset): each single-row transaction appends ~32 KiB of WAL (the row, the row-change
 * list and its purge, stateVersion), so 4000 of them grow it to ~125 MiB. With checkpoints (SQLite's
 * auto-checkpoint every 1000 pages, the replicator's TRUNCATE checkpoints) it stays ~4 MiB. The
 * bound sits between with room on both sides; it must be raised if wal_autocheckpoint is.
 */
const WAL_BOUND = 32 * 1024 * 1024;
const UPDATES = 4_000;

test(`the replica WAL stays below ${WAL_BOUND / 2 ** 20} MiB under ${UPDATES} single-row update transactions`, async () => {
  const proc = await node.startAndWaitStreaming();
  const wal = `${node.replicaFile}-wal`;
  let maxWal = 0;
  const sample = () => {
    maxWal = Math.max(
      maxWal,
      existsSync(wal) ? (statSync(wal, {throwIfNoEntry: false})?.size ?? 0) : 0,
    );
  };
  const sampler = setInterval(sample, 20);
  try {
    // Autocommitted single-row updates, pipelined over a few connections.
    const inFlight = 64;
    let next = 0;
    await Promise.all(
      Array.from({length: inFlight}, async () => {
        while (next < UPDATES) {
          const i = next++;
          await db.sql`UPDATE item SET v = ${'u' + i} WHERE id = ${(i % 100) + 1}`;
        }
      }),
    );
    const position = await upstreamPosition(db.sql);
    await db.sql`UPDATE item SET v = 'last' WHERE id = 1`;
    await waitForStateVersion(node.replicaFile, position, 90_000, proc);
    sample();
  } finally {
    clearInterval(sampler);
  }
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
  console.log(`max replica WAL size: ${(maxWal / 2 ** 20).toFixed(1)} MiB`);
  expect(maxWal, 'the WAL was sampled').toBeGreaterThan(0);
  expect(maxWal).toBeLessThan(WAL_BOUND);
}, 120_000);
