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
import {startHttpServer} from '../server/http-endpoints.js';
import {startReplicationNode} from '../server/replication-node.js';
import {createLogger, type Logger} from '../shared/log.js';

/**
 * `zero-cache` / `zcache`: parse the configuration, start an embedded Postgres when no
 * ZERO_UPSTREAM_DB is given, then run the node. Any startup failure prints one message and exits 1.
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
    return await runNode(config, log, cleanups);
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

async function runNode(
  config: ZeroConfig,
  log: Logger,
  cleanups: (() => Promise<void>)[],
): Promise<number> {
  const node = await startReplicationNode({
    upstreamUrl: config.upstream.db!,
    changeDbUrl: config.change.db ?? config.upstream.db!,
    replicaFile: config.replica.file,
    shard: {appID: config.app.id, shardNum: config.shard.num},
    appPublications: config.app.publications,
    copyWorkers: config.initialSync.tableCopyWorkers,
    taskID: config.taskID,
    log,
  });
  cleanups.push(() => node.stop());
  const http = await startHttpServer(config.port);
  cleanups.push(() => new Promise((r) => http.close(() => r())));
  log.info(`zcache is replicating into ${config.replica.file}; listening on port ${config.port}`);

  const stopped = new Promise<number>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        log.info(`${sig}: shutting down`);
        resolve(0);
      });
    }
  });
  const failed = node.done.then(
    () => 0,
    (e: Error) => {
      log.error(`replication stopped: ${e.message}`);
      return 1;
    },
  );
  return Promise.race([stopped, failed]);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(
      `zero-cache: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(1);
  },
);
