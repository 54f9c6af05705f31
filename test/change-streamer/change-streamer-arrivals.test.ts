import {afterAll, beforeAll, expect, test} from 'vitest';
import {ChangeLog} from '../../src/change-streamer/change-log.js';
import {ChangeStreamer} from '../../src/change-streamer/change-streamer.js';
import type {ChangeStreamMessage, DataChange} from '../../src/protocol/change-stream.js';
import type {SourceEvent} from '../../src/replication/change-maker.js';
import type {ChangeSource} from '../../src/replication/pg-change-source.js';
import {versionToLexi} from '../../src/shared/lexi-version.js';
import {silentLogger} from '../../src/shared/log.js';
import {eventually} from '../support/eventually.js';
import {testChangeSource} from '../support/test-change-source.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';

/**
 * The single node's replicator follows arrivals: a transaction reaches it as soon as upstream has
 * committed it, while the change log (real, in Postgres) is still storing it; upstream is acked only
 * once the store has finished, so nothing is acked that a crash could lose. Subscribers of stored
 * transactions still see a transaction only after it is stored.
 */
const REPLICA_VERSION = versionToLexi(100);
const wm = (n: number) => versionToLexi(100 + n);
const relation = {schema: 'public', name: 'item', keyColumns: ['id']};
const insert = (id: number): DataChange => ({tag: 'insert', relation, new: {id}});

/** A real change log whose stores wait until the test opens the gate. */
class GatedChangeLog extends ChangeLog {
  gate: Promise<void> = Promise.resolve();
  open: () => void = () => {};
  close(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  override async storeMany(txs: Parameters<ChangeLog['storeMany']>[0]): Promise<void> {
    await this.gate;
    return super.storeMany(txs);
  }
}

let db: TestDatabase;
let log: GatedChangeLog;
let streamer: ChangeStreamer;
let push: (events: SourceEvent[]) => void;
let acked: bigint[] = [];
const abort = new AbortController();

function testSource(): ChangeSource {
  const t = testChangeSource(abort.signal);
  push = t.push;
  acked = t.acked;
  return t.source;
}

const commitTx = (n: number) =>
  push([
    {type: 'begin', commitWatermark: wm(n)},
    {type: 'data', change: insert(n)},
    {type: 'commit', watermark: wm(n), ackLsn: BigInt(n)},
  ]);

/** Collects the commit watermarks a subscription yields. */
function collect(stream: AsyncGenerator<ChangeStreamMessage>): string[] {
  const commits: string[] = [];
  void (async () => {
    for await (const msg of stream) if (msg[0] === 'commit') commits.push(msg[2].watermark);
  })();
  return commits;
}

beforeAll(async () => {
  db = await createTestDatabase('change_streamer_arrivals');
  log = new GatedChangeLog(db.sql, {appID: 'zero', shardNum: 0});
  await log.ensureTables();
  await log.reset(REPLICA_VERSION, ['p'], 'task-a');
  await log.storeMany([1, 2].map((n) => ({watermark: wm(n), changes: [insert(n)]})));
  streamer = new ChangeStreamer(log, wm(2), silentLogger);
  void streamer.run(testSource());
});
afterAll(async () => {
  abort.abort();
  log.open();
  await db?.drop();
});

test('a transaction reaches an arrival subscriber before the log stores it; upstream is acked after', async () => {
  const arrivals = collect(streamer.subscribeArrivals(wm(0), abort.signal));
  const stored = collect(streamer.subscribe(wm(0), abort.signal));
  await eventually(() => expect(arrivals).toEqual([wm(1), wm(2)]));
  await eventually(() => expect(stored).toEqual([wm(1), wm(2)]));

  log.close();
  commitTx(3);
  await eventually(() => expect(arrivals).toEqual([wm(1), wm(2), wm(3)]));
  await new Promise((r) => setTimeout(r, 100));
  expect(stored).toEqual([wm(1), wm(2)]); // not stored yet
  expect(acked).not.toContain(3n);
  expect(await log.state()).toMatchObject({lastWatermark: wm(2)});

  log.open();
  await eventually(() => expect(stored).toEqual([wm(1), wm(2), wm(3)]));
  await eventually(() => expect(acked).toContain(3n));
  expect(await log.state()).toMatchObject({lastWatermark: wm(3)});
});

test('an arrival subscriber joining while transactions are unstored gets the log, then them, each once', async () => {
  log.close();
  commitTx(4);
  commitTx(5);
  await eventually(() => expect(streamer.lastStored).toBe(wm(3)));
  await new Promise((r) => setTimeout(r, 50)); // 4 and 5 have arrived, unstored
  const late = collect(streamer.subscribeArrivals(wm(1), abort.signal));
  await eventually(() => expect(late).toEqual([wm(2), wm(3), wm(4), wm(5)]));
  log.open();
  commitTx(6);
  await eventually(() => expect(late).toEqual([wm(2), wm(3), wm(4), wm(5), wm(6)]));
  await eventually(() => expect(streamer.lastStored).toBe(wm(6)));
  await new Promise((r) => setTimeout(r, 50));
  expect(late).toHaveLength(5); // the stores of 4..6 repeat nothing
});
