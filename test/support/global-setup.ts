import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import type {TestProject} from 'vitest/node';
import {startEmbeddedPostgres, type RunningPostgres} from '../../src/server/embedded-postgres.js';
import {createLogger} from '../../src/shared/log.js';
import {freePort} from './ports.js';

/**
 * One Postgres cluster for the whole test run: ZERO_UPSTREAM_DB when set, else an embedded one in a
 * temporary folder. Each test file makes its own databases on it (see pg.ts), so files run in parallel.
 */
let pg: RunningPostgres | undefined;
let dir: string | undefined;

export async function setup(project: TestProject) {
  let url = process.env.ZERO_UPSTREAM_DB;
  if (!url) {
    dir = mkdtempSync(path.join(tmpdir(), 'zcache-test-pg-'));
    pg = await startEmbeddedPostgres({
      dataDir: dir,
      port: await freePort(),
      log: createLogger('warn'),
      settings: {
        max_replication_slots: 100,
        max_wal_senders: 100,
        max_connections: 600,
        fsync: 'off',
        synchronous_commit: 'off',
        // With synchronous_commit off, commits reach logical replication when the WAL writer
        // flushes: every 200 ms by default, which would batch every test's writes that way.
        wal_writer_delay: '10ms',
        full_page_writes: 'off',
      },
    });
    url = pg.url;
  }
  project.provide('pgAdminUrl', url);
}

export async function teardown() {
  await pg?.stop();
  if (dir) rmSync(dir, {recursive: true, force: true});
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
