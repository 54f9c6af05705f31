import {execFileSync} from 'node:child_process';
import {closeSync, openSync, rmSync, writeSync} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {createItemNode, ITEM, type ItemNode} from '../support/item-node.js';
import {waitForReplicaToEqualUpstream} from '../support/zcache-process.js';

/**
 * The replica's volume fills up under a running single node: a real full disk, a small tmpfs
 * mounted over the node's folder (this needs root, as tests run here and in CI; elsewhere the test
 * is skipped and says why), filled to the last byte by another file while upstream keeps writing.
 */
let fixture: ItemNode;
let mounted = false;
let cannotMount = '';

beforeAll(async () => {
  fixture = await createItemNode('disk_full', 200);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', fixture.node.dir], {
      stdio: 'pipe',
    });
    mounted = true;
  } catch (e) {
    cannotMount = (e as Error).message;
  }
});

afterAll(async () => {
  await fixture?.node.proc?.kill();
  if (mounted) execFileSync('umount', [fixture.node.dir]);
  await fixture?.close();
});

/** Writes `file` until the volume has no byte left. */
function fillVolume(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

test('the replica volume full: zcache stops naming the replica file and what to do, the replica stays sound, and after space is freed a restart resumes and ends equal to upstream', async (ctx) => {
  if (!mounted) {
    console.log(`skipped: cannot mount a small tmpfs here (${cannotMount})`);
    ctx.skip();
  }
  const {db, node} = fixture;
  const first = await node.startAndWaitStreaming();
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM]);
  const filler = path.join(node.dir, 'filler');
  fillVolume(filler);
  // Rows far larger than the WAL's free frames: the replica must grow.
  await db.sql`INSERT INTO item SELECT g, repeat(md5(g::text), 64) FROM generate_series(1001, 3000) g`;
  const exit = await first.waitForExit(60_000);
  expect(exit.code, first.describe()).toBe(1);
  const said = first.lines.filter((l) => /full/i.test(l)).join('\n');
  expect(said, first.describe()).toContain(node.replicaFile);
  expect(said, first.describe()).toMatch(/free (some )?space/i);

  rmSync(filler);
  const replica = new Database(node.replicaFile, {readonly: true});
  try {
    expect(replica.pragma('quick_check', {simple: true})).toBe('ok');
  } finally {
    replica.close();
  }
  const second = await node.startAndWaitStreaming();
  expect(
    second.lines.some((l) => /resuming replica/.test(l)),
    second.describe(),
  ).toBe(true);
  await db.sql`UPDATE item SET v = 'after the disk was freed' WHERE id <= 10`;
  await waitForReplicaToEqualUpstream(db.sql, node.replicaFile, [ITEM], 60_000);
}, 180_000);
