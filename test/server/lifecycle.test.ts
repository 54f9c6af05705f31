import {afterAll, afterEach, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {createZcacheNode, type ZcacheNode, type ZcacheProcess} from '../support/zcache-process.js';
import {isRunning, zcacheChildren} from './process-tree.js';

/**
 * How the single-node process tree stops: SIGTERM drains and exits 0 with every child gone; a
 * child that dies takes the whole node down with a non-zero exit; a SIGKILLed supervisor leaves no
 * orphans behind (children exit when their IPC channel closes).
 */

const READY_LINE = /zcache ready/;

let db: TestDatabase;
let node: ZcacheNode;
beforeAll(async () => {
  db = await createTestDatabase('lifecycle');
  await db.sql`CREATE TABLE item (id int PRIMARY KEY, v text)`;
  node = await createZcacheNode({upstreamUrl: db.url, env: {ZERO_NUM_SYNC_WORKERS: '2'}});
});
afterEach(async () => {
  await node.proc?.kill();
});
afterAll(async () => {
  await node?.close();
  await db?.drop();
});

async function startReady(): Promise<{proc: ZcacheProcess; children: number[]}> {
  const proc = node.start();
  await proc.waitForLine(READY_LINE, {timeoutMs: 60_000});
  const {replication, syncWorkers} = zcacheChildren(proc.pid);
  expect(replication, proc.describe()).toHaveLength(1);
  expect(syncWorkers, proc.describe()).toHaveLength(2);
  return {proc, children: [...replication, ...syncWorkers]};
}

function expectAllGone(pids: number[], proc: ZcacheProcess): void {
  expect(
    pids.filter((p) => isRunning(p)),
    `children still running\n${proc.describe()}`,
  ).toEqual([]);
}

test('SIGTERM: workers drain, replication closes its stream, exit code 0, no child left', async () => {
  const {proc, children} = await startReady();
  proc.signal('SIGTERM');
  const exit = await proc.waitForExit(20_000);
  expect(exit, proc.describe()).toEqual({code: 0, signal: null});
  expectAllGone(children, proc);
  expect(proc.lines.some((l) => /closed slot "[^"]+"/.test(l))).toBe(true);
  expect(proc.lines.some((l) => /exited unexpectedly/.test(l))).toBe(false);
});

test('SIGKILL of a sync worker: the supervisor logs it, stops everything and exits 1', async () => {
  const {proc, children} = await startReady();
  const [, victim] = zcacheChildren(proc.pid).syncWorkers;
  process.kill(victim!, 'SIGKILL');
  const exit = await proc.waitForExit(20_000);
  expect(exit, proc.describe()).toEqual({code: 1, signal: null});
  expect(
    proc.lines.some((l) =>
      new RegExp(
        `ERROR .*sync worker \\d \\(pid ${victim}\\) exited unexpectedly \\(signal SIGKILL\\)`,
      ).test(l),
    ),
    proc.describe(),
  ).toBe(true);
  expectAllGone(children, proc);
});

test('SIGKILL of the replication child: the supervisor stops the workers and exits 1', async () => {
  const {proc, children} = await startReady();
  const [replication] = zcacheChildren(proc.pid).replication;
  process.kill(replication!, 'SIGKILL');
  const exit = await proc.waitForExit(20_000);
  expect(exit, proc.describe()).toEqual({code: 1, signal: null});
  expect(
    proc.lines.some((l) => /replication \(pid \d+\) exited unexpectedly/.test(l)),
    proc.describe(),
  ).toBe(true);
  expectAllGone(children, proc);
});

test('SIGKILL of the supervisor alone: its children notice the closed channel and exit', async () => {
  const {proc, children} = await startReady();
  process.kill(proc.pid, 'SIGKILL');
  // The children hold the output pipes, so the process only counts as closed once they are gone.
  await proc.waitForExit(20_000);
  await eventually(() => expectAllGone(children, proc), 10_000);
});

test('/keepalive: unwatched until the first call; then silence past the timeout drains and exits 0', async () => {
  const proc = node.start({ZCACHE_KEEPALIVE_TIMEOUT_MS: '1000'});
  await proc.waitForLine(READY_LINE, {timeoutMs: 60_000});
  const keepalive = async () => {
    const res = await fetch(`http://127.0.0.1:${node.port}/keepalive`);
    expect(await res.text()).toBe('OK');
  };
  await new Promise((r) => setTimeout(r, 1500)); // no load balancer yet: nothing is watched
  expect(proc.exit).toBeUndefined();
  for (let i = 0; i < 8; i++) {
    await keepalive();
    await new Promise((r) => setTimeout(r, 250)); // 2 s of heartbeats, each within the timeout
  }
  expect(proc.exit).toBeUndefined();
  const exit = await proc.waitForExit(20_000);
  expect(exit, proc.describe()).toEqual({code: 0, signal: null});
  expect(proc.lines.some((l) => /no \/keepalive for 1000 ms/.test(l))).toBe(true);
});
