import Database from 'better-sqlite3';
import {Zero} from '@rocicorp/zero';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {allowReadingLedger, ledgerSchema} from '../support/ledger-schema.js';
import {
  expectEveryTransactionOnce,
  RETRYING_LEDGER_SETUP,
  RETRYING_LEDGER_TABLES,
  RetryingLedgerWriter,
} from '../support/retrying-ledger-writer.js';
import {startOwnPostgres, type OwnPostgres} from '../support/own-postgres.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
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
 * Upstream Postgres stopped for a while under a single node that serves clients (its CVR and
 * change databases stay up, on another cluster). zcache says what is wrong and that it retries,
 * stays up, keeps its connected client and serves a new one from the replica; once Postgres is
 * back it resumes from the slot, and every write — made before the stop or after the restart —
 * reaches the replica and the clients exactly once.
 *
 * The outage lasts ZCACHE_OUTAGE_MS (12 s in CI; set 60000 for the minute of the issue).
 */
const OUTAGE_MS = Number(process.env.ZCACHE_OUTAGE_MS ?? 12_000);

let pg: OwnPostgres;
let upstream: ScratchDatabase;
let cvr: TestDatabase;
let node: ZcacheNode;
const clients: Zero<typeof ledgerSchema>[] = [];

beforeAll(async () => {
  pg = await startOwnPostgres();
  upstream = await pg.createDatabase('outage');
  await upstream.sql.unsafe(RETRYING_LEDGER_SETUP);
  cvr = await createTestDatabase('outage_cvr');
  node = await createZcacheNode({
    upstreamUrl: upstream.url,
    env: {ZERO_CVR_DB: cvr.url, ZERO_CHANGE_DB: cvr.url},
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((z) => z.close()));
  await node?.close();
  await upstream?.drop().catch(() => {});
  await cvr?.drop();
  await pg?.close();
});

/** A client that records whether it ever went offline. */
function client(userID: string): {z: Zero<typeof ledgerSchema>; wentOffline: () => boolean} {
  let offline = false;
  const z = new Zero({
    server: `http://127.0.0.1:${node.port}`,
    userID,
    schema: ledgerSchema,
    kvStore: 'mem',
    onOnlineChange: (online) => {
      if (!online) offline = true;
    },
  });
  clients.push(z);
  return {z, wentOffline: () => offline};
}

async function upstreamLedger(): Promise<number[]> {
  return (await upstream.sql`SELECT seq FROM ledger ORDER BY seq`).map((r) => r.seq as number);
}

function replicaLedger(): number[] {
  const db = new Database(node.replicaFile, {readonly: true});
  try {
    return (db.prepare('SELECT seq FROM ledger ORDER BY seq').all() as {seq: number}[]).map(
      (r) => r.seq,
    );
  } finally {
    db.close();
  }
}

test(`upstream stopped for ${OUTAGE_MS / 1000} s: zcache logs it and retries, stays up and serving, and resumes exactly once when Postgres is back`, async () => {
  const proc = await node.startAndWaitStreaming();
  await allowReadingLedger(upstream.sql);

  const a = client('before-the-outage');
  const viewA = a.z.query.ledger.orderBy('seq', 'asc').materialize();
  const writer = new RetryingLedgerWriter(upstream.sql);
  for (let i = 0; i < 10; i++) await writer.commitOne();
  await eventually(async () =>
    expect(viewA.data.map((r) => r.seq)).toEqual(await upstreamLedger()),
  );

  // Writes just before the stop: some may reach zcache before it, some only after the restart.
  for (let i = 0; i < 10; i++) await writer.commitOne();
  const stoppedAt = proc.lines.length;
  await pg.stop('fast');

  await proc.waitForLine(/replication: upstream unreachable .*: retrying in \d/, {
    from: stoppedAt,
    timeoutMs: 20_000,
  });
  // Reads from the replica keep working: a client arriving now is served what the replica has.
  const b = client('during-the-outage');
  const viewB = b.z.query.ledger.orderBy('seq', 'asc').materialize();
  await eventually(() => expect(viewB.data.map((r) => r.seq)).toEqual(replicaLedger()));
  expect(viewB.data.length).toBeGreaterThanOrEqual(10);
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  expect(proc.exit, proc.describe()).toBeUndefined();
  const retries = proc.lines
    .slice(stoppedAt)
    .filter((l) => /replication: upstream unreachable/.test(l));
  expect(retries.length, proc.describe()).toBeGreaterThanOrEqual(2);
  expect(
    retries.some((l) => /ECONNREFUSED/.test(l)),
    proc.describe(),
  ).toBe(true);

  await pg.start();
  for (let i = 0; i < 10; i++) await writer.commitOne();
  const position = await upstreamPosition(upstream.sql);
  await writer.commitOne();
  await waitForStateVersion(node.replicaFile, position, 60_000, proc);
  await waitForReplicaToEqualUpstream(upstream.sql, node.replicaFile, RETRYING_LEDGER_TABLES);
  await expectEveryTransactionOnce(cvr.sql, node.replicaFile, writer.committed);
  expect(proc.lines.slice(stoppedAt).some((l) => /replication: upstream is back/.test(l))).toBe(
    true,
  );
  expect(
    proc.lines.slice(stoppedAt).filter((l) => /initial sync/.test(l)),
    'resumed from the slot, not resynced',
  ).toEqual([]);

  const all = await upstreamLedger();
  expect(all).toHaveLength(31);
  await eventually(() => expect(viewA.data.map((r) => r.seq)).toEqual(all), 30_000);
  await eventually(() => expect(viewB.data.map((r) => r.seq)).toEqual(all), 30_000);
  expect(a.wentOffline(), 'the client connected before the outage stayed connected').toBe(false);
  expect(b.wentOffline(), 'the client connected during the outage stayed connected').toBe(false);
  expect(proc.exit, proc.describe()).toBeUndefined();
}, 180_000);
