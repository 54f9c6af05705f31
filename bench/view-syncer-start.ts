import {readBackupManifest, S3ObjectStore} from '../src/backup/index.js';
import {startS3Server} from '../test/support/s3-server.js';
import {freePort} from '../test/support/ports.js';
import type {BenchContext} from './bench-context.js';
import {createBenchDatabase} from './bench-postgres.js';
import {wallClockMs} from './clock.js';
import {int, megabytes, ms, note, seconds} from './figures.js';
import {issueTrackerCounts, seedSql} from './initial-sync.js';
import {startZcacheServer, type ZcacheServer} from './zcache-server.js';

/**
 * Multi node: how long a new view-syncer takes from process start to serving, for a replica of
 * 1,000,000 rows (BENCH_SCALE=1). A replication-manager syncs the issue-tracker dataset and backs
 * its replica up to an S3 server (s3rver, on this machine); then a view-syncer is started and
 * timed to its "zcache ready" line — reserve a snapshot, download and check it, catch up from the
 * change log, start its sync worker. Its own log gives the restore's share.
 */
const BENCH = 'view-syncer-start';

export async function benchViewSyncerStart(ctx: BenchContext): Promise<void> {
  const counts = issueTrackerCounts(ctx);
  const rows = Object.values(counts).reduce((a, b) => a + b, 0);
  const db = await createBenchDatabase(ctx.adminUrl, 'bench_view_syncer_start');
  const s3 = await startS3Server();
  const servers: ZcacheServer[] = [];
  try {
    let t = wallClockMs();
    await db.sql.unsafe(seedSql(counts));
    note(BENCH, `seeded ${int(rows)} rows in ${seconds(wallClockMs() - t)}`);
    const changeStreamerPort = await freePort();
    const backup = {ZERO_LITESTREAM_ENDPOINT: s3.endpoint, ...s3.env};
    t = wallClockMs();
    const manager = await startZcacheServer(db.url, {
      ZERO_NUM_SYNC_WORKERS: '0',
      ZERO_CHANGE_STREAMER_PORT: String(changeStreamerPort),
      ZERO_LITESTREAM_BACKUP_URL: s3.backupURL,
      ZCACHE_BACKUP_INTERVAL_MS: '60000',
      ...backup,
    });
    servers.push(manager);
    Object.assign(process.env, s3.env);
    const store = new S3ObjectStore({backupURL: s3.backupURL, endpoint: s3.endpoint});
    let manifest = await readBackupManifest(store);
    while (!manifest) {
      await new Promise((r) => setTimeout(r, 200));
      manifest = await readBackupManifest(store);
    }
    note(
      BENCH,
      `manager: initial sync and first backup (${megabytes(manifest.bytes)} gzip) ` +
        `in ${seconds(wallClockMs() - t)}`,
    );
    const viewSyncer = await startZcacheServer(db.url, {
      ZERO_CHANGE_STREAMER_URI: `ws://127.0.0.1:${changeStreamerPort}`,
      ZERO_NUM_SYNC_WORKERS: '1',
      ...backup,
    });
    servers.push(viewSyncer);
    const restored = /restored the replica .* in (\d+) ms/.exec(viewSyncer.log());
    if (!restored) throw new Error(`the view-syncer did not restore from S3:\n${viewSyncer.log()}`);
    ctx.report({
      bench: BENCH,
      metric: 'new view-syncer, start to ready',
      value: ms(viewSyncer.readyMs),
      notes: `${int(rows)}-row replica restored from S3 (${megabytes(manifest.bytes)} gzip)`,
    });
    ctx.report({
      bench: BENCH,
      metric: 'of which download + check + unpack',
      value: ms(Number(restored[1])),
    });
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => {});
    await s3.dispose();
    await db.drop();
  }
}
