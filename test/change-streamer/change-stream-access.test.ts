import {afterAll, afterEach, beforeAll, expect, test} from 'vitest';
import WebSocket from 'ws';
import {ChangeLog} from '../../src/change-streamer/change-log.js';
import {ChangeLogPurger} from '../../src/change-streamer/change-log-purger.js';
import {followChanges, reserveSnapshot} from '../../src/change-streamer/change-stream-client.js';
import {
  ChangeStreamServer,
  type ChangeStreamServerOptions,
} from '../../src/change-streamer/change-stream-server.js';
import {ChangeStreamer} from '../../src/change-streamer/change-streamer.js';
import type {ChangeStreamMessage, DataChange} from '../../src/protocol/change-stream.js';
import {changesPath, snapshotPath} from '../../src/protocol/change-stream-wire.js';
import {versionToLexi, type LexiVersion} from '../../src/shared/lexi-version.js';
import {createLogger, silentLogger, type Logger} from '../../src/shared/log.js';
import {eventually} from '../support/eventually.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {testChangeSource} from '../support/test-change-source.js';

/**
 * Who may use the replication-manager's change-streamer port, and how long a view-syncer may hold
 * back the change-log purge: the shared secret (401 without it, and not one row), the connection
 * cap (503), and the expiry of subscribers that stop acking and reservations that go silent — with
 * the purge moving on right after — while view-syncers that ack and keep alive are left alone.
 */
const REPLICA_VERSION = versionToLexi(100);
const wm = (n: number) => versionToLexi(100 + n);
const relation = {schema: 'public', name: 'item', keyColumns: ['id']};
const insert = (id: number): DataChange => ({tag: 'insert', relation, new: {id}});
const SECRET = 'correct horse battery staple';

let db: TestDatabase;
let nextShard = 0;
const rigs: Rig[] = [];

beforeAll(async () => {
  db = await createTestDatabase('change_stream_access');
});

afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.close();
});

afterAll(async () => {
  await db?.drop();
});

/** A manager's change log (transactions wm(1)..wm(5), one insert each), its server and purger. */
interface Rig {
  readonly server: ChangeStreamServer;
  readonly base: string;
  readonly purger: ChangeLogPurger;
  /** The newest backup's watermark, as the purger and /snapshot see it. */
  backup: LexiVersion | undefined;
  commit(n: number): void;
  /** The watermarks the change log still holds. */
  stored(): Promise<string[]>;
  close(): Promise<void>;
}

async function startRig(opts: Partial<ChangeStreamServerOptions> = {}): Promise<Rig> {
  const shardNum = nextShard++;
  const log = new ChangeLog(db.sql, {appID: 'zero', shardNum});
  await log.ensureTables();
  await log.reset(REPLICA_VERSION, ['p'], 'task');
  await log.storeMany([1, 2, 3, 4, 5].map((n) => ({watermark: wm(n), changes: [insert(n)]})));
  const abort = new AbortController();
  const source = testChangeSource(abort.signal);
  const streamer = new ChangeStreamer(log, wm(5), silentLogger);
  void streamer.run(source.source);
  const purger = new ChangeLogPurger(
    log,
    {
      latestBackup: () => rig.backup,
      replicaDurable: () => wm(1000),
      retained: () => wm(1000),
      oldestNeeded: () => server.oldestNeeded(),
    },
    silentLogger,
    3_600_000,
  );
  const server = new ChangeStreamServer({
    port: 0,
    host: '127.0.0.1',
    streamer,
    changeLog: log,
    replicaVersion: REPLICA_VERSION,
    backupURL: 's3://bucket/replica',
    latestBackupWatermark: () => rig.backup,
    log: silentLogger,
    development: true,
    // As the replication-manager wires it: a dropped view-syncer lets the purge move on at once.
    onDropped: () => void purger.purgeNow(),
    ...opts,
  });
  const base = `ws://127.0.0.1:${await server.listen()}`;
  const rig: Rig = {
    server,
    base,
    purger,
    backup: wm(2),
    commit: (n) =>
      source.push([
        {type: 'begin', commitWatermark: wm(n)},
        {type: 'data', change: insert(n)},
        {type: 'commit', watermark: wm(n), ackLsn: BigInt(n)},
      ]),
    stored: async () => {
      const rows = await db.sql.unsafe(
        `SELECT DISTINCT "watermark" FROM "zero_${shardNum}/cdc"."changeLog" ORDER BY 1`,
      );
      return rows.map((r) => r.watermark as string);
    },
    close: async () => {
      purger.stop();
      abort.abort();
      await server.close();
    },
  };
  rigs.push(rig);
  return rig;
}

function capturingLogger(): {log: Logger; lines: string[]} {
  const lines: string[] = [];
  return {log: createLogger('debug', 'text', {}, {write: (l) => lines.push(l)}), lines};
}

const changesURL = (rig: Rig, from = wm(1)) =>
  rig.base +
  changesPath({
    id: 'x',
    taskID: 'stranger',
    mode: 'serving',
    replicaVersion: REPLICA_VERSION,
    watermark: from,
    initial: false,
  });

/**
 * Opens a socket the way a stranger would, and never acks. Resolves with the HTTP status and body
 * of a refusal, or — when the server upgrades instead — status 101 and the frames sent in 300 ms.
 */
function tryConnect(url: string, headers: Record<string, string> = {}) {
  return new Promise<{status: number; body: string; frames: string[]}>((resolve, reject) => {
    const ws = new WebSocket(url, {headers});
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(d.toString()));
    ws.on('error', reject);
    ws.on('open', () =>
      setTimeout(() => {
        ws.terminate();
        resolve({status: 101, body: '', frames});
      }, 300),
    );
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({status: res.statusCode!, body, frames});
        ws.terminate();
      });
    });
  });
}

/** An open socket that never acks: its frames, and how the server closed it (within 10 s). */
function silentSocket(url: string) {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  ws.on('message', (d) => frames.push(d.toString()));
  const closed = new Promise<{code: number; reason: string}>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server kept the socket open')), 10_000);
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({code, reason: reason.toString()});
    });
  });
  return {ws, frames, closed};
}

function follow(
  rig: Rig,
  from: LexiVersion,
  o: {secret?: string; log?: Logger},
  signal: AbortSignal,
) {
  return followChanges({
    base: rig.base,
    params: {id: 't', taskID: 'vs-1', mode: 'serving', replicaVersion: REPLICA_VERSION},
    from,
    secret: o.secret,
    log: o.log ?? silentLogger,
    signal,
  });
}

/** The insert ids of the next `count` transactions. */
async function insertsOf(stream: AsyncGenerator<ChangeStreamMessage>, count: number) {
  const ids: number[] = [];
  for await (const msg of stream) {
    if (msg[0] === 'data' && msg[1].tag === 'insert') ids.push(msg[1].new.id as number);
    if (msg[0] === 'commit' && --count === 0) break;
  }
  return ids;
}

test('a change-stream request without the secret is refused with 401 and gets no rows', async () => {
  const rig = await startRig({secret: SECRET});
  const answer = await tryConnect(changesURL(rig));
  expect(answer.status).toBe(401);
  expect(answer.body).toContain('set ZCACHE_CHANGE_STREAMER_SECRET');
  expect(answer.frames).toEqual([]);
});

test('a snapshot request with a wrong secret is refused with 401 and gets no reservation', async () => {
  const rig = await startRig({secret: SECRET});
  const answer = await tryConnect(rig.base + snapshotPath('stranger'), {
    Authorization: 'Bearer correct horse battery stapler',
  });
  expect(answer.status).toBe(401);
  expect(answer.frames).toEqual([]);
  expect(rig.server.stats().reservations).toBe(0);
});

test('a view-syncer with the right secret reserves and streams', async () => {
  const rig = await startRig({secret: SECRET});
  const abort = new AbortController();
  const reservation = await reserveSnapshot(rig.base, 'vs-1', silentLogger, abort.signal, {
    secret: SECRET,
  });
  expect(reservation.status.minWatermark).toBe(wm(2));
  expect(await insertsOf(follow(rig, wm(2), {secret: SECRET}, abort.signal), 3)).toEqual([3, 4, 5]);
  abort.abort();
});

test("a view-syncer with a wrong secret logs the manager's 401 explanation", async () => {
  const rig = await startRig({secret: SECRET});
  const {log, lines} = capturingLogger();
  const abort = new AbortController();
  const stream = follow(rig, wm(2), {secret: 'not it', log}, abort.signal);
  const first = stream.next();
  await eventually(() =>
    expect(lines.join('\n')).toMatch(/HTTP 401 Unauthorized: .*set ZCACHE_CHANGE_STREAMER_SECRET/),
  );
  abort.abort();
  // Ended by the abort (returned, or thrown if it was connecting): never a message.
  expect(await first.catch(() => 'aborted')).not.toMatchObject({done: false});
});

test('without a secret outside development, the server warns that the port must stay internal', async () => {
  const {log, lines} = capturingLogger();
  await startRig({development: false, log});
  expect(lines.join('\n')).toMatch(
    /ZCACHE_CHANGE_STREAMER_SECRET is not set.*Keep this port internal/,
  );
});

test('the connection beyond the cap is refused with 503', async () => {
  const rig = await startRig({maxConnections: 2});
  const abort = new AbortController();
  await reserveSnapshot(rig.base, 'vs-1', silentLogger, abort.signal);
  await reserveSnapshot(rig.base, 'vs-2', silentLogger, abort.signal);
  const answer = await tryConnect(changesURL(rig));
  expect(answer.status).toBe(503);
  expect(answer.body).toContain('ZCACHE_CHANGE_STREAMER_MAX_CONNECTIONS=2');
  expect(answer.frames).toEqual([]);
  abort.abort();
});

test('a subscriber that never acks is dropped, and the purge moves on', async () => {
  const rig = await startRig({ackTimeoutMs: 300});
  rig.backup = wm(4);
  const stranger = silentSocket(changesURL(rig, wm(1)));
  await eventually(() => expect(stranger.frames.length).toBeGreaterThan(1));
  expect(rig.purger.limit()).toBe(wm(1));
  const closed = await stranger.closed;
  expect(closed).toMatchObject({code: 1008, reason: expect.stringMatching(/no ack for/)});
  await eventually(async () => expect(await rig.stored()).toEqual([wm(4), wm(5)]));
});

test('a snapshot reservation that goes silent expires, and the purge moves on', async () => {
  const rig = await startRig({ackTimeoutMs: 300});
  const stranger = silentSocket(rig.base + snapshotPath('stranger'));
  await eventually(() => expect(stranger.frames).toHaveLength(1));
  rig.backup = wm(4); // a newer backup: only the reservation of the older one holds the purge
  expect(rig.purger.limit()).toBe(wm(2));
  const closed = await stranger.closed;
  expect(closed).toMatchObject({code: 1008, reason: expect.stringMatching(/expired/)});
  await eventually(async () => expect(await rig.stored()).toEqual([wm(4), wm(5)]));
});

test('a subscriber that acks stays subscribed well past the ack timeout', async () => {
  const server = capturingLogger();
  const rig = await startRig({ackTimeoutMs: 300, log: server.log});
  const client = capturingLogger();
  const abort = new AbortController();
  const stream = follow(rig, wm(5), {log: client.log}, abort.signal);
  const seen: number[] = [];
  const consuming = (async () => {
    for await (const msg of stream) {
      if (msg[0] === 'data' && msg[1].tag === 'insert') seen.push(msg[1].new.id as number);
    }
  })().catch(() => {}); // the abort at the end may throw

  for (let n = 6; n <= 15; n++) {
    rig.commit(n);
    await new Promise((r) => setTimeout(r, 100));
  }
  await eventually(() => expect(seen).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]));
  expect(server.lines.filter((l) => /dropped/.test(l))).toEqual([]);
  expect(client.lines.filter((l) => /lost the change-streamer/.test(l))).toEqual([]);
  abort.abort();
  await consuming;
});

test('a snapshot reservation its view-syncer keeps alive outlives the ack timeout', async () => {
  const rig = await startRig({ackTimeoutMs: 300});
  const abort = new AbortController();
  const reservation = await reserveSnapshot(rig.base, 'vs-1', silentLogger, abort.signal, {
    keepaliveMs: 50,
  });
  await new Promise((r) => setTimeout(r, 1000));
  expect(rig.server.stats().reservations).toBe(1);
  expect(rig.server.oldestNeeded()).toBe(wm(2));
  reservation.release();
  abort.abort();
});
