import {afterAll, beforeAll, expect, test} from 'vitest';
import {ChangeLog} from '../../src/change-streamer/change-log.js';
import {
  ChangeStreamRefusedError,
  followChanges,
  reserveSnapshot,
} from '../../src/change-streamer/change-stream-client.js';
import {ChangeStreamServer} from '../../src/change-streamer/change-stream-server.js';
import {ChangeStreamer} from '../../src/change-streamer/change-streamer.js';
import type {ChangeStreamMessage, DataChange} from '../../src/protocol/change-stream.js';
import {ChangeStreamErrorType} from '../../src/protocol/change-stream-wire.js';
import type {SourceEvent} from '../../src/replication/change-maker.js';
import type {ChangeSource} from '../../src/replication/pg-change-source.js';
import {versionToLexi} from '../../src/shared/lexi-version.js';
import {silentLogger} from '../../src/shared/log.js';
import {eventually} from '../support/eventually.js';
import {testChangeSource} from '../support/test-change-source.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';

/**
 * The change-streamer socket between a replication-manager and its view-syncers: a subscriber
 * gets every stored transaction after its watermark (catch-up, then live), resumes after a lost
 * connection without a gap or a repeat, and is refused — with the documented error type — when
 * its replica belongs to another change log or the log no longer reaches back to it.
 */
const REPLICA_VERSION = versionToLexi(100);
const wm = (n: number) => versionToLexi(100 + n);
const relation = {schema: 'public', name: 'item', keyColumns: ['id']};
const insert = (id: number): DataChange => ({tag: 'insert', relation, new: {id}});

let db: TestDatabase;
let log: ChangeLog;
let streamer: ChangeStreamer;
let server: ChangeStreamServer;
let base: string;
let backupWatermark: string | undefined;
let push: (events: SourceEvent[]) => void;
const abort = new AbortController();

function testSource(): ChangeSource {
  const t = testChangeSource(abort.signal);
  push = t.push;
  return t.source;
}

function commitTx(n: number, ids: number[]) {
  push([
    {type: 'begin', commitWatermark: wm(n)},
    ...ids.map((id) => ({type: 'data' as const, change: insert(id)})),
    {type: 'commit', watermark: wm(n), ackLsn: BigInt(n)},
  ]);
}

const serverOptions = (port: number) => ({
  port,
  host: '127.0.0.1',
  streamer,
  changeLog: log,
  replicaVersion: REPLICA_VERSION,
  backupURL: 's3://bucket/replica',
  latestBackupWatermark: () => backupWatermark,
  log: silentLogger,
});

beforeAll(async () => {
  db = await createTestDatabase('change_stream_socket');
  log = new ChangeLog(db.sql, {appID: 'zero', shardNum: 0});
  await log.ensureTables();
  await log.reset(REPLICA_VERSION, ['p'], 'task-a');
  await log.storeMany([1, 2, 3].map((n) => ({watermark: wm(n), changes: [insert(n)]})));
  streamer = new ChangeStreamer(log, wm(3), silentLogger);
  void streamer.run(testSource());
  server = new ChangeStreamServer(serverOptions(0));
  base = `ws://127.0.0.1:${await server.listen()}`;
});

afterAll(async () => {
  abort.abort();
  await server?.close();
  await db?.drop();
});

/** Collects insert ids from `follow` until `count` commits have been seen. */
async function commitsFrom(stream: AsyncGenerator<ChangeStreamMessage>, count: number) {
  const seen: (number | 'rollback')[] = [];
  let commits = 0;
  for await (const msg of stream) {
    if (msg[0] === 'data' && msg[1].tag === 'insert') seen.push(msg[1].new.id as number);
    if (msg[0] === 'rollback') seen.push('rollback');
    if (msg[0] === 'commit' && ++commits === count) break;
  }
  return seen;
}

/** Reads up to the next commit, leaving the stream open. Returns the insert ids seen. */
async function untilCommit(stream: AsyncGenerator<ChangeStreamMessage>) {
  const ids: number[] = [];
  for (;;) {
    const {value, done} = await stream.next();
    if (done) throw new Error('the stream ended');
    if (value[0] === 'data' && value[1].tag === 'insert') ids.push(value[1].new.id as number);
    if (value[0] === 'commit') return ids;
  }
}

const follow = (from: string, signal = abort.signal) =>
  followChanges({
    base,
    params: {id: 't', taskID: 'vs-1', mode: 'serving', replicaVersion: REPLICA_VERSION},
    from,
    log: silentLogger,
    signal,
  });

test('a subscriber catches up from the log, then receives live transactions', async () => {
  const stream = follow(wm(1));
  const caughtUp = commitsFrom(stream, 3);
  await new Promise((r) => setTimeout(r, 200));
  commitTx(4, [4, 40]);
  expect(await caughtUp).toEqual([2, 3, 4, 40]);
  await stream.return(undefined);
});

test("a subscriber's acked watermark bounds what the log must keep", async () => {
  const stream = follow(wm(2));
  expect(await untilCommit(stream)).toEqual([3]);
  expect(await untilCommit(stream)).toEqual([4, 40]);
  // Taking wm(4) acknowledged wm(3); wm(4) is acknowledged once the consumer asks for more.
  await eventually(() => expect(server.oldestNeeded()).toBe(wm(3)));
  await stream.return(undefined);
  await eventually(() => expect(server.oldestNeeded()).toBe(null));
});

test('a lost connection resumes after the last commit, with no gap and no repeat', async () => {
  const stream = follow(wm(4));
  const seen = commitsFrom(stream, 3);
  commitTx(5, [5]);
  await eventually(() => expect(server.stats().subscribers).toHaveLength(1));
  await new Promise((r) => setTimeout(r, 200));
  // Drop every subscriber socket from the server side, then keep writing.
  await server.close();
  server = new ChangeStreamServer(serverOptions(Number(new URL(base).port)));
  commitTx(6, [6]);
  await server.listen();
  commitTx(7, [7]);
  expect(await seen).toEqual([5, 6, 7]);
  await stream.return(undefined);
}, 30_000);

test('a replica of another version is refused with WrongReplicaVersion', async () => {
  const stream = followChanges({
    base,
    params: {id: 't', taskID: 'vs-2', mode: 'serving', replicaVersion: versionToLexi(99)},
    from: versionToLexi(99),
    log: silentLogger,
    signal: abort.signal,
  });
  const error = await stream.next().catch((e) => e);
  expect(error).toBeInstanceOf(ChangeStreamRefusedError);
  expect(error.type).toBe(ChangeStreamErrorType.WrongReplicaVersion);
});

test('a watermark the purged log no longer reaches is refused with WatermarkTooOld', async () => {
  expect(await log.purgeBefore(wm(3))).toBeGreaterThan(0); // drops wm(1) and wm(2)
  const tooOld = await follow(wm(1))
    .next()
    .catch((e) => e);
  expect(tooOld).toBeInstanceOf(ChangeStreamRefusedError);
  expect(tooOld.type).toBe(ChangeStreamErrorType.WatermarkTooOld);
  // wm(2) was the newest purged transaction: a subscriber that applied it needs nothing purged.
  const stream = follow(wm(2));
  expect(await commitsFrom(stream, 1)).toEqual([3]);
  await stream.return(undefined);
});

test('a snapshot reservation names the backup and holds the purge there until the task subscribes', async () => {
  backupWatermark = wm(6);
  const reservation = await reserveSnapshot(base, 'vs-3', silentLogger, abort.signal);
  expect(reservation.status).toMatchObject({
    backupURL: 's3://bucket/replica',
    replicaVersion: REPLICA_VERSION,
    minWatermark: wm(6),
  });
  await eventually(() => expect(server.oldestNeeded()).toBe(wm(6)));
  const stream = followChanges({
    base,
    params: {id: 't', taskID: 'vs-3', mode: 'serving', replicaVersion: REPLICA_VERSION},
    from: wm(6),
    log: silentLogger,
    signal: abort.signal,
  });
  expect(await untilCommit(stream)).toEqual([7]);
  // Subscribing with `initial` ended the reservation: the subscriber's watermark bounds the purge.
  await eventually(() => expect(server.oldestNeeded()).toBe(wm(6)));
  commitTx(8, [8]);
  expect(await untilCommit(stream)).toEqual([8]);
  await eventually(() => expect(server.oldestNeeded()).toBe(wm(7)));
  await stream.return(undefined);
});
