#!/usr/bin/env node
import {
  ConfigError,
  parseConfig,
  renderHelp,
  wantsHelp,
  withUpstreamDb,
  type ZeroConfig,
} from '../config/index.js';
import {startEmbeddedPostgres, type RunningPostgres} from '../server/embedded-postgres.js';
import {runSupervisor} from '../server/supervisor.js';
import {createLogger, type Logger} from '../shared/log.js';

/**
 * `zero-cache` / `zcache`: parse the configuration, start an embedded Postgres when no
 * ZERO_UPSTREAM_DB is given (its URL reaches the child processes through the config), then run the
 * single-node supervisor (replication child + sync workers). Embedded Postgres stops last, after
 * every child has exited. Any startup failure prints one message and exits 1.
 */
async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(renderHelp() + '\n');
    return 0;
  }
  let config: ZeroConfig;
  try {
    config = parseConfig(argv, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const log = createLogger(config.log.level, config.log.format);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    config = await withEmbeddedPostgresIfNeeded(config, log, cleanups);
    return await runSupervisor(config, log);
  } catch (e) {
    log.error(e instanceof Error ? e.message : String(e));
    return 1;
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e) => log.warn('shutdown:', e));
  }
}

async function withEmbeddedPostgresIfNeeded(
  config: ZeroConfig,
  log: Logger,
  cleanups: (() => Promise<void>)[],
): Promise<ZeroConfig> {
  if (config.upstream.db) return config;
  if (config.changeStreamer.uri) {
    // A view-syncer with its own embedded database would sync nothing its manager writes.
    throw new Error(
      'a view-syncer (ZERO_CHANGE_STREAMER_URI is set) needs ZERO_UPSTREAM_DB: ' +
        'set it to the same database as its replication-manager',
    );
  }
  log.info(`no ZERO_UPSTREAM_DB: starting embedded Postgres in ${config.dataDir}`);
  const pg: RunningPostgres = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.embeddedPgPort,
    log,
  });
  cleanups.push(() => pg.stop());
  log.info(`embedded Postgres is running: ${pg.url}`);
  return withUpstreamDb(config, pg.url);
}

// Should the event loop ever empty while main() is still pending, exit non-zero, not 0.
process.exitCode = 1;
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(
      `zero-cache: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(1);
  },
);
