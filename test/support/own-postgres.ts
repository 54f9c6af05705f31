import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {startEmbeddedPostgres, type RunningPostgres} from '../../src/server/embedded-postgres.js';
import {createLogger} from '../../src/shared/log.js';
import {freePort} from './ports.js';
import {createScratchDatabase, type ScratchDatabase} from './scratch-database.js';

/**
 * A Postgres cluster of one test file's own, which the test may stop, crash and start again
 * without disturbing the files that run in parallel on the shared cluster (global-setup.ts).
 *
 * - `stop('fast')` is an orderly shutdown (SIGINT: sessions are ended, a checkpoint is written);
 *   `stop('immediate')` is `pg_ctl stop -m immediate` (SIGQUIT: every process quits at once, no
 *   checkpoint, and the next start runs crash recovery from the WAL).
 * - `start()` starts it again in the same folder on the same port, so URLs stay valid.
 * Commits are synchronous (unlike the shared cluster): a crash loses nothing acknowledged, so a
 * test can hold upstream to what its writer saw committed.
 */
export interface OwnPostgres {
  /** postgres:// URL of the `postgres` database (an admin URL). */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  createDatabase(prefix: string): Promise<ScratchDatabase>;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster (if running) and deletes its folder. */
  close(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-own-pg-'));
  const port = await freePort();
  const launch = () =>
    startEmbeddedPostgres({
      dataDir: dir,
      port,
      log: createLogger('warn'),
      settings: {fsync: 'off', full_page_writes: 'off', max_connections: 200},
    });
  let pg: RunningPostgres | undefined = await launch();
  const url = pg.url;
  return {
    url,
    port,
    get running() {
      return pg !== undefined;
    },
    createDatabase: (prefix) => createScratchDatabase(url, prefix),
    async stop(mode) {
      if (!pg) return;
      if (mode === 'fast') await pg.stop();
      else await quitImmediately(path.join(dir, 'pg', 'postmaster.pid'));
      pg = undefined;
    },
    async start() {
      if (pg) return;
      pg = await launch();
    },
    async close() {
      await pg?.stop();
      pg = undefined;
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

/** SIGQUIT to the postmaster (what `pg_ctl stop -m immediate` sends), then waits for it to go. */
async function quitImmediately(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) throw new Error(`no ${pidFile}: is the cluster running?`);
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGQUIT');
  for (let i = 0; i < 600; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`postmaster ${pid} did not quit within 30 s of SIGQUIT`);
}
