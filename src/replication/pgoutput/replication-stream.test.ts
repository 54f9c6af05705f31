import {afterAll, afterEach, beforeAll, describe, expect, test, vi} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../../../test/support/pg.js';
import {createLogger} from '../../shared/log.js';
import {bigIntToLsn, lsnToBigInt} from '../../shared/lsn.js';
import type {PgCommit} from './decoder.js';
import {
  startReplicationStream,
  type ReplicationMessage,
  type ReplicationStream,
} from './replication-stream.js';

let db: TestDatabase;
const openStreams: ReplicationStream[] = [];
let slotCount = 0;

beforeAll(async () => {
  db = await createTestDatabase('pgoutput_stream');
  await db.sql.unsafe(`
    CREATE TABLE items (id int PRIMARY KEY, name text);
    CREATE PUBLICATION pub FOR TABLE items;
  `);
});

afterEach(async () => {
  await Promise.all(openStreams.splice(0).map((s) => s.close()));
  await db.sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
               WHERE database = current_database() AND NOT active`;
});

afterAll(async () => {
  await db?.drop();
});

/** A new pgoutput slot and its consistent point, from which streaming starts. */
async function createSlot(): Promise<{slot: string; startLsn: bigint}> {
  const slot = `stream_${++slotCount}`;
  const [row] = await db.sql<{lsn: string}[]>`
    SELECT lsn FROM pg_create_logical_replication_slot(${slot}, 'pgoutput')`;
  return {slot, startLsn: lsnToBigInt(row!.lsn)};
}

async function stream(slot: string, startLsn: bigint, statusIntervalMs?: number) {
  const s = await startReplicationStream({
    url: db.url,
    slot,
    startLsn,
    publications: ['pub'],
    statusIntervalMs,
  });
  openStreams.push(s);
  return withoutPositions(s);
}

/** The stream, iterating its pgoutput messages only (server positions come at the server's pace). */
function withoutPositions(s: ReplicationStream): ReplicationStream {
  return {
    ack: (lsn) => s.ack(lsn),
    close: () => s.close(),
    async *[Symbol.asyncIterator]() {
      for await (const m of s) if (m.message.tag !== 'position') yield m;
    },
  };
}

async function take(
  messages: AsyncIterator<ReplicationMessage>,
  count: number,
): Promise<ReplicationMessage[]> {
  const taken: ReplicationMessage[] = [];
  while (taken.length < count) {
    const next = await messages.next();
    if (next.done) throw new Error(`stream ended after ${taken.length} of ${count} messages`);
    taken.push(next.value);
  }
  return taken;
}

/** Reads one whole transaction (begin … commit) and returns its messages. */
async function takeTransaction(
  messages: AsyncIterator<ReplicationMessage>,
): Promise<ReplicationMessage[]> {
  const taken = await take(messages, 1);
  expect(taken[0]!.message.tag).toBe('begin');
  while (taken.at(-1)!.message.tag !== 'commit') taken.push(...(await take(messages, 1)));
  return taken;
}

function commitOf(transaction: ReplicationMessage[]): PgCommit {
  const commit = transaction.at(-1)!.message;
  if (commit.tag !== 'commit') throw new Error(`expected commit, got ${commit.tag}`);
  return commit;
}

async function confirmedFlushLsn(slot: string): Promise<string> {
  const [row] = await db.sql<{lsn: string}[]>`
    SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = ${slot}`;
  return row!.lsn;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startReplicationStream', () => {
  test('streams a committed transaction as begin, relation, insert, commit', async () => {
    const {slot, startLsn} = await createSlot();
    const messages = (await stream(slot, startLsn))[Symbol.asyncIterator]();
    await db.sql`INSERT INTO items (id, name) VALUES (1, 'one')`;

    const transaction = await take(messages, 4);
    expect(transaction.map((m) => m.message.tag)).toEqual([
      'begin',
      'relation',
      'insert',
      'commit',
    ]);
    expect(transaction[2]!.message).toMatchObject({tag: 'insert', new: ['1', 'one']});
    const commit = commitOf(transaction);
    expect(transaction[0]!.lsn).toBeGreaterThanOrEqual(startLsn);
    expect(transaction[3]!.lsn).toBe(commit.endLsn);
  });

  test('an ack becomes the slot confirmed_flush_lsn', async () => {
    const {slot, startLsn} = await createSlot();
    const s = await stream(slot, startLsn);
    await db.sql`INSERT INTO items (id, name) VALUES (2, 'two')`;
    const commit = commitOf(await takeTransaction(s[Symbol.asyncIterator]()));

    s.ack(commit.endLsn);
    await s.close();
    expect(await confirmedFlushLsn(slot)).toBe(bigIntToLsn(commit.endLsn));
  });

  test('restarting from the acked LSN skips the acked transaction and sends later ones', async () => {
    const {slot, startLsn} = await createSlot();
    const first = await stream(slot, startLsn);
    await db.sql`INSERT INTO items (id, name) VALUES (3, 'acked')`;
    const acked = commitOf(await takeTransaction(first[Symbol.asyncIterator]()));
    first.ack(acked.endLsn);
    await first.close();

    await db.sql`INSERT INTO items (id, name) VALUES (4, 'later')`;
    const second = await stream(slot, acked.endLsn);
    const transaction = await takeTransaction(second[Symbol.asyncIterator]());
    const inserts = transaction.filter((m) => m.message.tag === 'insert');
    expect(inserts.map((m) => m.message)).toMatchObject([{new: ['4', 'later']}]);
  });

  test('acking an LSN behind the previous ack throws', async () => {
    const {slot, startLsn} = await createSlot();
    const s = await stream(slot, startLsn);
    s.ack(startLsn + 100n);
    expect(() => s.ack(startLsn + 99n)).toThrow(/behind the previous ack.*never move backwards/);
  });

  test('a slot that another stream holds fails to start with context', async () => {
    const {slot, startLsn} = await createSlot();
    await stream(slot, startLsn);
    await expect(stream(slot, startLsn)).rejects.toThrow(
      new RegExp(`^replication stream: cannot start slot "${slot}".*is active`),
    );
  });

  test('a terminated server connection is thrown from the iterator', async () => {
    const {slot, startLsn} = await createSlot();
    const messages = (await stream(slot, startLsn))[Symbol.asyncIterator]();
    const pending = messages.next();
    await db.sql`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                 WHERE slot_name = ${slot}`;
    await expect(pending).rejects.toThrow(/^replication stream: /);
  });

  test('a server warning, such as a missing publication, is logged', async () => {
    const {slot, startLsn} = await createSlot();
    const lines: string[] = [];
    const log = createLogger('warn', 'text', {}, {write: (line) => lines.push(line)});
    const s = await startReplicationStream({
      url: db.url,
      slot,
      startLsn,
      publications: ['nope'],
      log,
    });
    openStreams.push(s);
    await db.sql`INSERT INTO items (id, name) VALUES (6, 'six')`;
    await vi.waitFor(() => expect(lines.join('\n')).toMatch(/WARN.*publication "nope"/), {
      timeout: 10_000,
    });
  });

  test('keepalives that request a reply are answered, so the stream outlives wal_sender_timeout', async () => {
    await db.sql.unsafe(`ALTER DATABASE "${db.name}" SET wal_sender_timeout = '1s'`);
    try {
      const {slot, startLsn} = await createSlot();
      const messages = (await stream(slot, startLsn))[Symbol.asyncIterator]();
      const pending = messages.next();
      pending.catch(() => {});
      await sleep(3000);
      await db.sql`INSERT INTO items (id, name) VALUES (5, 'still here')`;
      expect((await pending).value).toMatchObject({message: {tag: 'begin'}});
    } finally {
      await db.sql.unsafe(`ALTER DATABASE "${db.name}" RESET wal_sender_timeout`);
    }
  });

  test('keepalives report server positions past unpublished writes, so acks can follow them', async () => {
    await db.sql.unsafe(`ALTER DATABASE "${db.name}" SET wal_sender_timeout = '1s'`);
    try {
      const {slot, startLsn} = await createSlot();
      const s = await startReplicationStream({url: db.url, slot, startLsn, publications: ['pub']});
      openStreams.push(s);
      await db.sql.unsafe('CREATE TABLE IF NOT EXISTS unpublished (v int)');
      await db.sql`INSERT INTO unpublished VALUES (1)`;
      const [row] = await db.sql<{lsn: string}[]>`SELECT pg_current_wal_lsn()::text AS lsn`;
      const lsn = row!.lsn;
      for await (const m of s) {
        if (m.message.tag === 'position' && m.message.walEnd >= lsnToBigInt(lsn)) {
          s.ack(m.message.walEnd);
          break;
        }
      }
    } finally {
      await db.sql.unsafe(`ALTER DATABASE "${db.name}" RESET wal_sender_timeout`);
    }
  });

  test('status updates are sent unasked at the status interval', async () => {
    const {slot, startLsn} = await createSlot();
    await stream(slot, startLsn, 200);
    const replyTime = async () => {
      const [row] = await db.sql<{replyTime: Date | null}[]>`
        SELECT reply_time AS "replyTime" FROM pg_stat_replication
        WHERE pid = (SELECT active_pid FROM pg_replication_slots WHERE slot_name = ${slot})`;
      return row?.replyTime?.getTime() ?? 0;
    };
    await sleep(300);
    const before = await replyTime();
    await sleep(600);
    expect(await replyTime()).toBeGreaterThan(before);
  });
});
