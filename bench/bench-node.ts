import {existsSync, mkdtempSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {startReplicationNode, type ReplicationNode} from '../src/server/replication-node.js';
import type {Logger} from '../src/shared/log.js';
import {wallClockMs} from './clock.js';

export const COPY_WORKERS = 5;

/**
 * A replication node (upstream → change log → replica) over one benchmark database, with its
 * replica in a fresh temporary folder, configured as `zero-cache` would be by default (shard
 * zero/0, the `public` schema published, 5 table-copy workers).
 */
export interface BenchNode {
  readonly node: ReplicationNode;
  readonly replicaFile: string;
  /** Wall time of startReplicationNode, from call to return (includes initial sync). */
  readonly startMs: number;
  /** Stops the node (closing the replica checkpoints its WAL into the file). */
  stop(): Promise<void>;
  /** Bytes of the replica file and its -wal, if any. */
  replicaBytes(): number;
  removeFiles(): void;
}

/**
 * `stallMs`: give up (reject) when startReplicationNode has not returned and the replica file has
 * not grown for this long — an initial sync that stopped making progress.
 */
export async function startBenchNode(
  url: string,
  log: Logger,
  opts: {stallMs?: number} = {},
): Promise<BenchNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-bench-replica-'));
  const replicaFile = path.join(dir, 'replica.db');
  const replicaBytes = () =>
    [replicaFile, `${replicaFile}-wal`]
      .filter((f) => existsSync(f))
      .reduce((sum, f) => sum + statSync(f).size, 0);
  const started = wallClockMs();
  const starting = startReplicationNode({
    upstreamUrl: url,
    changeDbUrl: url,
    replicaFile,
    shard: {appID: 'zero', shardNum: 0},
    appPublications: [],
    copyWorkers: COPY_WORKERS,
    taskID: 'bench',
    log,
  });
  let node: ReplicationNode;
  try {
    node = await (opts.stallMs ? withStallWatch(starting, replicaBytes, opts.stallMs) : starting);
  } catch (e) {
    starting.then(
      (n) => n.stop(),
      () => {},
    );
    rmSync(dir, {recursive: true, force: true});
    throw e;
  }
  const startMs = wallClockMs() - started;
  let stopped = false;
  return {
    node,
    replicaFile,
    startMs,
    async stop() {
      if (stopped) return;
      stopped = true;
      await node.stop();
    },
    replicaBytes,
    removeFiles() {
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

function withStallWatch<T>(work: Promise<T>, size: () => number, stallMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let last = -1;
    let lastChange = wallClockMs();
    const timer = setInterval(() => {
      const now = size();
      if (now !== last) {
        last = now;
        lastChange = wallClockMs();
      } else if (wallClockMs() - lastChange > stallMs) {
        clearInterval(timer);
        reject(
          new Error(
            `startReplicationNode stalled: no return and the replica stayed at ${now} bytes for ${stallMs / 1000} s`,
          ),
        );
      }
    }, 1000);
    work.then(
      (v) => {
        clearInterval(timer);
        resolve(v);
      },
      (e) => {
        clearInterval(timer);
        reject(e);
      },
    );
  });
}
