import {spawn, type ChildProcess} from 'node:child_process';
import {createRequire} from 'node:module';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import react from '@vitejs/plugin-react';
import postgres from 'postgres';
import {createServer, type ViteDevServer} from 'vite';
import {startEmbeddedPostgres, type RunningPostgres} from '../../src/server/embedded-postgres.js';
import {createLogger} from '../../src/shared/log.js';
import {startApiServer, type ApiServer} from './server/api-server.js';
import {seedDemo} from './server/seed.js';

/**
 * Everything the demo needs, started in order: Postgres (embedded unless a URL is given) with the
 * seeded tables, the app's API server, zcache (as its own process, from this repository's source)
 * pointed at both, and Vite serving the React front end. `stop()` takes it down in reverse.
 *
 * This runner is zcache's, not part of the app: the app is shared/, server/ and web/.
 */
export interface DemoOptions {
  /** A Postgres database with wal_level=logical; default: an embedded cluster in `dataDir`. */
  upstreamUrl?: string;
  /** Where the embedded cluster and zcache's replica live. */
  dataDir: string;
  zcachePort?: number;
  apiPort?: number;
  webPort?: number;
  pgPort?: number;
  /** Where zcache's and the runner's log lines go (default: stderr). */
  log?: (line: string) => void;
}

export interface RunningDemo {
  /** The front end's address: open it in a browser. */
  readonly url: string;
  readonly zcacheUrl: string;
  stop(): Promise<void>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ZCACHE_ENTRY = path.resolve(HERE, '../../src/bin/zero-cache.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch((e) => log(`demo: ${e}`));
  };
  try {
    const upstreamUrl = opts.upstreamUrl ?? (await embeddedDatabase(opts, stops));
    const sql = postgres(upstreamUrl, {onnotice: () => {}});
    stops.push(() => sql.end());
    await seedDemo(sql);
    const api = await startApiServer({sql, port: opts.apiPort ?? 4850});
    stops.push(() => api.close());
    const zcacheUrl = await startZcache(opts, upstreamUrl, api, log, stops);
    const web = await startFrontEnd(opts, zcacheUrl);
    stops.push(() => web.close());
    const url = `http://localhost:${web.config.server.port}/`;
    return {url, zcacheUrl, stop};
  } catch (e) {
    await stop();
    throw e;
  }
}

async function embeddedDatabase(opts: DemoOptions, stops: (() => Promise<void>)[]) {
  const pg: RunningPostgres = await startEmbeddedPostgres({
    dataDir: opts.dataDir,
    port: opts.pgPort ?? 5499,
    log: createLogger('warn'),
  });
  stops.push(() => pg.stop());
  const admin = postgres(pg.url, {onnotice: () => {}});
  const exists = await admin`SELECT 1 FROM pg_database WHERE datname = 'issues'`;
  if (!exists.length) await admin`CREATE DATABASE issues`;
  await admin.end();
  return pg.url.replace(/\/postgres$/, '/issues');
}

async function startZcache(
  opts: DemoOptions,
  upstreamUrl: string,
  api: ApiServer,
  log: (line: string) => void,
  stops: (() => Promise<void>)[],
): Promise<string> {
  const port = opts.zcachePort ?? 4848;
  const apiBase = `http://127.0.0.1:${api.port}/api`;
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ZCACHE_ENTRY], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'development',
      ZERO_UPSTREAM_DB: upstreamUrl,
      ZERO_REPLICA_FILE: path.join(opts.dataDir, 'replica.db'),
      ZERO_QUERY_URL: `${apiBase}/query`,
      ZERO_MUTATE_URL: `${apiBase}/mutate`,
      ZERO_PORT: String(port),
      ZERO_CHANGE_STREAMER_PORT: String(port + 1),
      ZERO_NUM_SYNC_WORKERS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stops.push(() => stopChild(child));
  // If the runner dies without stopping it, zcache must not linger on its ports.
  process.once('exit', () => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      log(`[zcache] ${line}`);
      if (line.includes('zcache ready')) resolve();
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        lines.forEach(onLine);
      });
    }
    child.once('exit', (code) =>
      reject(new Error(`zcache exited (code ${code}) before it was ready`)),
    );
  });
  return `http://localhost:${port}`;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Vite's dev server exits the process on SIGTERM (and when stdin ends) without stopping what the
 * runner started; its listeners are removed, so the runner's own shutdown stops everything.
 */
async function startFrontEnd(opts: DemoOptions, zcacheUrl: string): Promise<ViteDevServer> {
  const sigterm = new Set(process.listeners('SIGTERM'));
  const stdinEnd = new Set(process.stdin.listeners('end'));
  const server = await createServer({
    configFile: false,
    root: path.join(HERE, 'web'),
    cacheDir: path.join(opts.dataDir, 'vite'),
    plugins: [react()],
    define: {__ZERO_SERVER__: JSON.stringify(zcacheUrl)},
    server: {port: opts.webPort ?? 5173, strictPort: true, host: 'localhost'},
    logLevel: 'warn',
  });
  await server.listen();
  for (const l of process.listeners('SIGTERM')) if (!sigterm.has(l)) process.off('SIGTERM', l);
  for (const l of process.stdin.listeners('end'))
    if (!stdinEnd.has(l)) process.stdin.off('end', l as () => void);
  return server;
}
