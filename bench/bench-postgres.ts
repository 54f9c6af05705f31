import {createScratchDatabase, type ScratchDatabase} from '../test/support/scratch-database.js';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {startEmbeddedPostgres} from '../src/server/embedded-postgres.js';
import type {Logger} from '../src/shared/log.js';
import {freePort} from '../test/support/ports.js';

/**
 * The Postgres the benchmarks run against: ZERO_UPSTREAM_DB when set, else an embedded cluster in a
 * temporary folder with durable commits (fsync and synchronous_commit on, as in production) and
 * room for bulk work. Each benchmark gets a fresh database on it, dropped afterwards.
 */
export const BENCH_PG_SETTINGS: Record<string, string | number> = {
  wal_level: 'logical',
  synchronous_commit: 'on',
  fsync: 'on',
  shared_buffers: '256MB',
  max_wal_size: '4GB',
  min_wal_size: '1GB',
  checkpoint_timeout: '30min',
  wal_buffers: '16MB',
  work_mem: '16MB',
  maintenance_work_mem: '256MB',
  max_replication_slots: 20,
  max_wal_senders: 20,
};

export interface BenchCluster {
  /** URL of a database with rights to create databases (the `postgres` database when embedded). */
  readonly adminUrl: string;
  /** How the cluster was obtained, for the results header. */
  readonly description: string;
  stop(): Promise<void>;
}

export async function startBenchCluster(log: Logger): Promise<BenchCluster> {
  const external = process.env.ZERO_UPSTREAM_DB;
  if (external) {
    return {adminUrl: external, description: 'ZERO_UPSTREAM_DB', stop: async () => {}};
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-bench-pg-'));
  try {
    const pg = await startEmbeddedPostgres({
      dataDir: dir,
      port: await freePort(),
      log,
      settings: BENCH_PG_SETTINGS,
    });
    return {
      adminUrl: pg.url,
      description: 'embedded',
      async stop() {
        await pg.stop();
        rmSync(dir, {recursive: true, force: true});
      },
    };
  } catch (e) {
    rmSync(dir, {recursive: true, force: true});
    throw e;
  }
}

export type BenchDatabase = ScratchDatabase;

export function createBenchDatabase(adminUrl: string, prefix: string): Promise<BenchDatabase> {
  return createScratchDatabase(adminUrl, prefix);
}
