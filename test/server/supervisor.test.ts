import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';
import {syncWorkerIndex} from '../../src/server/upgrade-handoff.js';
import {versionFromLexi} from '../../src/shared/lexi-version.js';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {
  createZcacheNode,
  upstreamPosition,
  type ZcacheNode,
  type ZcacheProcess,
} from '../support/zcache-process.js';
import {zcacheChildren} from './process-tree.js';
import {connectPath, runSyncSocket} from './sync-socket.js';

/**
 * zcache as a real single node: a supervisor owning ZERO_PORT, a replication child and two sync
 * workers. Sockets are routed by client group to a worker (which logs, at debug level, that it got
 * the connection; an unsupported protocol version gets its error), malformed connect requests are closed with 1002, and
 * the replica's "version ready" reaches every worker.
 */

const TASK_ID = 'supervisor-test-task';
const READY_LINE = /zcache ready/;
const PROTOCOL = encodeSecProtocols({authToken: 'token'});

let db: TestDatabase;
let node: ZcacheNode;
let proc: ZcacheProcess;
beforeAll(async () => {
  db = await createTestDatabase('supervisor');
  await db.sql`CREATE TABLE item (id int PRIMARY KEY, v text)`;
  await db.sql`INSERT INTO item VALUES (1, 'one')`;
  node = await createZcacheNode({
    upstreamUrl: db.url,
    env: {ZERO_NUM_SYNC_WORKERS: '2', ZERO_TASK_ID: TASK_ID, ZERO_LOG_LEVEL: 'debug'},
  });
  proc = node.start();
  await proc.waitForLine(READY_LINE, {timeoutMs: 60_000});
});
afterAll(async () => {
  await node?.close();
  await db?.drop();
});

/** A connect path at protocol v29, which the worker's handler refuses at once (and closes). */
function oldPath(clientGroupID: string, clientID = 'c'): string {
  return connectPath(clientGroupID, clientID).replace('/v44/', '/v29/');
}

/** `{index, pid}` of the worker that logged the connection of `group`/`client`. */
async function workerOf(group: string, client: string): Promise<{index: number; pid: number}> {
  const re = new RegExp(
    `sync connection: worker (\\d+) pid (\\d+) group ${group} client ${client}$`,
  );
  const line = await eventually(() => {
    const l = proc.lines.find((x) => re.test(x));
    expect(l, `no connection log line for ${group}/${client}`).toBeDefined();
    return l!;
  });
  const m = re.exec(line)!;
  return {index: Number(m[1]), pid: Number(m[2])};
}

test('starts as a supervisor with a replication child and 2 sync workers, logs ready, answers / and /keepalive', async () => {
  const children = zcacheChildren(proc.pid);
  expect(children.replication).toHaveLength(1);
  expect(children.syncWorkers).toHaveLength(2);
  for (const path of ['/', '/keepalive']) {
    const res = await fetch(`http://127.0.0.1:${node.port}${path}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
  }
  expect((await fetch(`http://127.0.0.1:${node.port}/nope`)).status).toBe(404);
});

test('a sync socket reaches a worker: the protocol is echoed and the handler answers', async () => {
  const outcome = await runSyncSocket(node.port, oldPath('g'), {protocol: PROTOCOL});
  expect(outcome.protocol).toBe(PROTOCOL);
  expect(outcome.messages).toEqual([
    ['error', expect.objectContaining({kind: 'VersionNotSupported', origin: 'zeroCache'})],
  ]);
  expect(zcacheChildren(proc.pid).syncWorkers).toContain((await workerOf('g', 'c')).pid);
  // After an error message the server closes without a code (§1.10).
  expect(outcome.closeCode).toBe(1005);
});

describe('connect requests that cannot be handed off close with 1002 and a reason', () => {
  const cases: [string, string, {protocol?: string; headers?: Record<string, string>}, RegExp][] = [
    ['a path two segments deep', connectPath('g', 'c', '/a/b'), {protocol: PROTOCOL}, /path/],
    [
      'a path with an unknown worker',
      '/nope/v44/connect?clientID=c&clientGroupID=g&ts=1&lmid=0',
      {protocol: PROTOCOL},
      /unknown worker/,
    ],
    [
      'no clientGroupID',
      '/sync/v44/connect?clientID=c&ts=1&lmid=0',
      {protocol: PROTOCOL},
      /missing parameter clientGroupID/,
    ],
    [
      'a garbled protocol header',
      connectPath('g'),
      {protocol: 'garbage'},
      /Sec-WebSocket-Protocol/,
    ],
    [
      'a protocol header that is not even a token list',
      connectPath('g'),
      {headers: {'Sec-WebSocket-Protocol': 'not { a token'}},
      /Sec-WebSocket-Protocol/,
    ],
    ['no protocol header', connectPath('g'), {}, /Missing Sec-WebSocket-Protocol/],
  ];
  test.each(cases)('%s', async (_name, path, opts, reason) => {
    const outcome = await runSyncSocket(node.port, path, opts);
    expect(outcome.closeCode).toBe(1002);
    expect(outcome.closeReason).toMatch(reason);
    expect(Buffer.byteLength(outcome.closeReason)).toBeLessThanOrEqual(123);
    expect(outcome.messages).toEqual([]);
  });
});

test('a client group always lands on the same worker, h32(taskID/clientGroupID) % 2; groups spread over both', async () => {
  const pidByIndex = new Map<number, number>();
  for (let g = 0; g < 12; g++) {
    const group = `group-${g}`;
    const seen = [];
    for (let i = 0; i < 3; i++) {
      await runSyncSocket(node.port, oldPath(group, `client-${i}`), {protocol: PROTOCOL});
      seen.push(await workerOf(group, `client-${i}`));
    }
    expect(new Set(seen.map((w) => w.pid)).size, group).toBe(1);
    expect(seen[0]!.index, group).toBe(syncWorkerIndex(TASK_ID, group, 2));
    pidByIndex.set(seen[0]!.index, seen[0]!.pid);
  }
  expect([...pidByIndex.keys()].sort()).toEqual([0, 1]);
  expect(new Set(pidByIndex.values()).size).toBe(2);
});

test('every worker got the replica version at start, and gets "version ready" after an upstream write', async () => {
  const readyAt = proc.lines.findIndex((l) => READY_LINE.test(l));
  for (const worker of ['sync-0', 'sync-1']) {
    const atStart = proc.lines
      .slice(0, readyAt)
      .some((l) => l.includes(`worker=${worker}`) && /version ready: /.test(l));
    expect(atStart, `${worker} got a version before ready`).toBe(true);
  }

  const from = proc.lines.length;
  const position = await upstreamPosition(db.sql);
  await db.sql`UPDATE item SET v = 'changed' WHERE id = 1`;
  for (const worker of ['sync-0', 'sync-1']) {
    await eventually(() => {
      const versions = proc.lines
        .slice(from)
        .filter((l) => l.includes(`worker=${worker}`))
        .map((l) => /version ready: (\S+)/.exec(l)?.[1])
        .filter((v) => v !== undefined);
      expect(
        versions.some((v) => versionFromLexi(v) >= versionFromLexi(position)),
        `${worker}: ${versions.join(', ')}\n${proc.describe()}`,
      ).toBe(true);
    }, 20_000);
  }
});
