import {afterEach, beforeEach, expect, test} from 'vitest';
import {createItemNode, ITEM, type ItemNode} from '../support/item-node.js';
import type {TestDatabase} from '../support/pg.js';
import {
  replicaConfig,
  waitForReplicaToEqualUpstream,
  type ZcacheNode,
} from '../support/zcache-process.js';

/**
 * The replication slot dropped under a running zcache (an operator's cleanup, or Postgres
 * invalidating it): zcache says so and stops, and started again it resyncs on a new slot and ends
 * equal to upstream — nothing written meanwhile is lost.
 */

let db: TestDatabase;
let node: ZcacheNode;
let fixture: ItemNode | undefined;
beforeEach(async () => {
  fixture = await createItemNode('slot_lost', 100);
  ({db, node} = fixture);
});
afterEach(async () => {
  await fixture?.close();
});

test('a replication slot dropped under zcache: it stops with the reason, and restarted resyncs to equal', async () => {
  const first = await node.startAndWaitStreaming();
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
  const slot = replicaConfig(node.replicaFile)!.slot;

  await db.sql`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                WHERE slot_name = ${slot} AND active_pid IS NOT NULL`;
  await db.sql`SELECT pg_drop_replication_slot(${slot})`.catch(async () => {
    // The walsender may have been restarted by zcache in between: end it again, then drop.
    await db.sql`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                  WHERE slot_name = ${slot} AND active_pid IS NOT NULL`;
    await db.sql`SELECT pg_drop_replication_slot(${slot})`;
  });
  await db.sql`UPDATE item SET v = 'after the slot was dropped' WHERE id <= 10`;
  const exit = await first.waitForExit(60_000);
  expect(exit.code, first.describe()).not.toBe(0);
  expect(
    first.lines.some((l) => l.includes(slot)),
    first.describe(),
  ).toBe(true);

  const second = await node.startAndWaitStreaming();
  expect(
    second.lines.some((l) => /initial sync: replication slot .* is gone/.test(l)),
    second.describe(),
  ).toBe(true);
  expect(replicaConfig(node.replicaFile)!.slot).not.toBe(slot);
  await db.sql`INSERT INTO item VALUES (1000, 'after the resync')`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
});
