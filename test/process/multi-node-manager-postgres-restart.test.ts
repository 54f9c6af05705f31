import Database from 'better-sqlite3';
import {Zero} from '@rocicorp/zero';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {allowReadingLedger, ledgerSchema} from '../support/ledger-schema.js';
import {managerEnv, viewSyncerEnv} from '../support/multi-node-env.js';
import {startOwnPostgres, type OwnPostgres} from '../support/own-postgres.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {
  expectEveryTransactionOnce,
  RETRYING_LEDGER_SETUP,
  RETRYING_LEDGER_TABLES,
  RetryingLedgerWriter,
} from '../support/retrying-ledger-writer.js';
import {startS3Server, type TestS3Server} from '../support/s3-server.js';
import type {ScratchDatabase} from '../support/scratch-database.js';
import {installWebSocketGlobal} from '../support/ws-global.js';
import {
  createZcacheNode,
  upstreamPosition,
  waitForReplicaToEqualUpstream,
  waitForStateVersion,
  type ZcacheNode,
} from '../support/zcache-process.js';

installWebSocketGlobal();

/**
 * The multi-node counterpart of postgres-immediate-restart.test.ts: the replication-manager's
 * Postgres (upstream and its change log, one cluster of this file's own) restarted in `immediate`
 * mode and kept down a few seconds, while upstream commits a stream of transactions and a
 * view-syncer serves a real client. The view-syncer's CVR database is on the shared test cluster,
 * so only the manager loses its database: what the view-syncer sees is its manager going quiet.
 *
 * The manager stays up, says upstream is unreachable and retries, then resumes from the slot; the
 * view-syncer stays up, keeps its client connected, hydrates a new one from its replica during the
 * outage, and follows the manager again. At the end both replicas and both clients equal upstream,
 * every transaction applied exactly once.
 */
const DOWN_MS = 4_000;
const SECRET = 'manager postgres restart secret';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pg: OwnPostgres;
let upstream: ScratchDatabase;
let cvr: TestDatabase;
let s3: TestS3Server;
let manager: ZcacheNode;
let viewSyncer: ZcacheNode;
const clients: Zero<typeof ledgerSchema>[] = [];

beforeAll(async () => {
  pg = await startOwnPostgres();
  upstream = await pg.createDatabase('mn_pg_restart');
  await upstream.sql.unsafe(RETRYING_LEDGER_SETUP);
  cvr = await createTestDatabase('mn_pg_restart_cvr');
  s3 = await startS3Server();
  const changeStreamerPort = await freePort();
  manager = await createZcacheNode({
    upstreamUrl: upstream.url,
    env: managerEnv(s3, changeStreamerPort, SECRET),
  });
  await manager.startAndWaitStreaming();
  await allowReadingLedger(upstream.sql);
  viewSyncer = await createZcacheNode({
    upstreamUrl: upstream.url,
    env: {...viewSyncerEnv(s3, changeStreamerPort, SECRET), ZERO_CVR_DB: cvr.url},
  });
  await viewSyncer.start().waitForLine(/zcache ready/, {timeoutMs: 60_000});
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await viewSyncer?.close();
  await manager?.close();
  await s3?.dispose();
  await upstream?.drop().catch(() => {});
  await cvr?.drop();
  await pg?.close();
});

/** A real client on the view-syncer, its ledger and counters, and whether it went offline. */
function attachClient(userID: string) {
  let offline = false;
  const z = new Zero({
    server: `http://127.0.0.1:${viewSyncer.port}`,
    userID,
    schema: ledgerSchema,
    kvStore: 'mem',
    onOnlineChange: (online) => {
      if (!online) offline = true;
    },
  });
  clients.push(z);
  return {
    ledger: z.query.ledger.orderBy('seq', 'asc').materialize(),
    counters: z.query.counter.orderBy('id', 'asc').materialize(),
    wentOffline: () => offline,
  };
}

type Client = ReturnType<typeof attachClient>;

function replicaLedger(file: string): number[] {
  const db = new Database(file, {readonly: true});
  try {
    return (db.prepare('SELECT seq FROM ledger ORDER BY seq').all() as {seq: number}[]).map(
      (r) => r.seq,
    );
  } finally {
    db.close();
  }
}

/**
 * Crashes Postgres and waits for the manager to say so; while it is down, a new client is
 * hydrated from the view-syncer's replica. Starts Postgres after DOWN_MS; returns that client.
 */
async function crashAndServeMeanwhile(): Promise<Client> {
  const from = manager.proc!.lines.length;
  await pg.stop('immediate');
  const downSince = Date.now();
  await manager.proc!.waitForLine(/replication: upstream unreachable .*: retrying in/, {
    from,
    timeoutMs: 20_000,
  });
  const during = attachClient('during-the-outage');
  await eventually(
    () =>
      expect(during.ledger.data.map((r) => r.seq)).toEqual(replicaLedger(viewSyncer.replicaFile)),
    DOWN_MS,
    100,
  );
  expect(during.ledger.data.length, 'served what was replicated before the crash').toBeGreaterThan(
    0,
  );
  await sleep(Math.max(0, DOWN_MS - (Date.now() - downSince)));
  await pg.start();
  return during;
}

/** Both replicas have every committed transaction, each once, and equal upstream. */
async function expectReplicasCaughtUpExactlyOnce(writer: RetryingLedgerWriter): Promise<void> {
  const position = await upstreamPosition(upstream.sql);
  await writer.commitOne();
  for (const n of [manager, viewSyncer]) {
    await waitForStateVersion(n.replicaFile, position, 60_000, n.proc);
    await waitForReplicaToEqualUpstream(upstream.sql, n.replicaFile, RETRYING_LEDGER_TABLES);
    await expectEveryTransactionOnce(upstream.sql, n.replicaFile, writer.committed);
  }
}

async function expectClientEqualsUpstream(c: Client, name: string): Promise<void> {
  const seqs = (await upstream.sql`SELECT seq FROM ledger ORDER BY seq`).map((r) => r.seq);
  const counters = (await upstream.sql`SELECT id, n FROM counter ORDER BY id`).map((r) => ({
    id: r.id,
    n: r.n,
  }));
  await eventually(
    () => {
      expect(
        c.ledger.data.map((r) => r.seq),
        `${name}: ledger`,
      ).toEqual(seqs);
      expect(
        c.counters.data.map((r) => ({id: r.id, n: r.n})),
        `${name}: counters`,
      ).toEqual(counters);
    },
    30_000,
    100,
  );
  expect(c.wentOffline(), `${name} stayed connected`).toBe(false);
}

test("the manager's Postgres restarted in immediate mode mid-stream: manager and view-syncer stay up, the view-syncer serves meanwhile, and replicas and client end equal to upstream, each transaction once", async () => {
  const writer = new RetryingLedgerWriter(upstream.sql);
  const before = attachClient('before-the-outage');
  try {
    await writer.commitOne();
    await eventually(() => expect(before.ledger.data.length).toBe(1), 30_000);
    writer.start(2);
    await eventually(() => expect(writer.committed).toBeGreaterThan(100), 30_000);
    const managerFrom = manager.proc!.lines.length;
    const viewSyncerFrom = viewSyncer.proc!.lines.length;
    const during = await crashAndServeMeanwhile();
    const resumedAt = writer.committed;
    await eventually(() => expect(writer.committed).toBeGreaterThan(resumedAt + 100), 60_000);
    await writer.stop();
    expect(writer.failures, 'the writer saw the crash').toBeGreaterThan(0);
    await expectReplicasCaughtUpExactlyOnce(writer);
    await expectClientEqualsUpstream(before, 'the client connected before the crash');
    await expectClientEqualsUpstream(during, 'the client connected during the outage');

    const managerLog = manager.proc!.lines.slice(managerFrom);
    expect(managerLog.some((l) => /replication: upstream is back/.test(l))).toBe(true);
    expect(
      managerLog.filter((l) => /initial sync/.test(l)),
      'resumed from the slot, not resynced',
    ).toEqual([]);
    expect(
      viewSyncer.proc!.lines.slice(viewSyncerFrom).filter((l) => /restored the replica/.test(l)),
      'the view-syncer followed on with its replica, not a restore',
    ).toEqual([]);
    expect(manager.proc!.exit, manager.proc!.describe()).toBeUndefined();
    expect(viewSyncer.proc!.exit, viewSyncer.proc!.describe()).toBeUndefined();
  } catch (e) {
    const logs = [manager, viewSyncer].map((n) => n.proc?.describe() ?? '').join('\n');
    throw new Error(`${(e as Error).message}\n${logs}`, {cause: e});
  } finally {
    await writer.stop();
  }
}, 110_000);
