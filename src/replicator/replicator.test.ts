import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, expect, test} from 'vitest';
import type {ChangeStreamMessage} from '../protocol/change-stream.js';
import {
  createMetaTables,
  openReplica,
  writeStateVersion,
  type ReplicaDb,
} from '../replica/replica-file.js';
import {versionToLexi} from '../shared/lexi-version.js';
import {silentLogger} from '../shared/log.js';
import {ChangeApplier} from './change-applier.js';
import {Replicator} from './replicator.js';

/**
 * The replica's durable version — what survives a power loss, and so the bound for purging the
 * change log — moves only when a checkpoint completes, not at each commit.
 */
const wm = (n: number) => versionToLexi(100 + n);
let dir: string;
let db: ReplicaDb;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'replicator-'));
  db = openReplica(path.join(dir, 'replica.db'));
  createMetaTables(db);
  writeStateVersion(db, wm(0));
});
afterEach(() => {
  db.close();
  rmSync(dir, {recursive: true, force: true});
});

function* transactions(...ns: number[]): Generator<ChangeStreamMessage> {
  for (const n of ns) {
    yield ['begin', {tag: 'begin'}, {commitWatermark: wm(n)}];
    yield ['commit', {tag: 'commit'}, {watermark: wm(n)}];
  }
}

async function* stream(msgs: Iterable<ChangeStreamMessage>): AsyncGenerator<ChangeStreamMessage> {
  yield* msgs;
}

test('the version at start is durable once the start-up checkpoint completes', () => {
  const replicator = new Replicator(db, new ChangeApplier(db, wm(0)), silentLogger);
  expect(replicator.durableVersion).toBe(wm(0));
});

test('commits between checkpoints are applied but not durable', async () => {
  let now = 0;
  const replicator = new Replicator(db, new ChangeApplier(db, wm(0)), silentLogger, {
    checkpointEveryMs: 1000,
    now: () => now,
  });
  now = 999;
  await replicator.run(stream(transactions(1, 2)));
  expect(replicator.stateVersion).toBe(wm(2));
  expect(replicator.durableVersion).toBe(wm(0));

  now = 1000;
  await replicator.run(stream(transactions(3)));
  expect(replicator.durableVersion).toBe(wm(3));
});
