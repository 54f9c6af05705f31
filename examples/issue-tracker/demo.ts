import {spawn, type ChildProcess} from 'node:child_process';
import {createRequire} from 'node:module';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import react from '@vitejs/plugin-react';
import postgres from 'postgres';
import {createServer, type ViteDevServer} from 'vite';
import {startEmbeddedPostgres, type RunningPostgres} from '../../src/server/embedded-postgres.js';
import {createLogger} from '../../src/shared/log.js';
import {seedDemo} from './server/seed.js';

/**
 * Everything the demo needs, started in order: Postgres (embedded unless a URL is given) with the
 * seeded tables, the app's API server (its own process), zcache (its own process, from this
 * repository's source) pointed at both, and Vite serving the React front end. `stop()` takes it
 * down in reverse.
 *
 * This runner is zcache's, not part of the app: the app is shared/, server/ and web/, a Zero 1.9
 * app. This repository also has Zero 0.25.9 installed as `@rocicorp/zero` (zcache's tests use it),
 * and 1.9.0 as `zero-1.9`; the app imports `@rocicorp/zero…` as any Zero app does, and those
 * imports are pointed at `zero-1.9` for the app alone: by `paths` in ./tsconfig.json for the type
 * check and for the API server (tsx reads the tsconfig that TSX_TSCONFIG_PATH names), and by the
 * alias below for the front end (Vite).
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
const API_ENTRY = path.join(HERE, 'server/main.ts');
const APP_TSCONFIG = path.join(HERE, 'tsconfig.json');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** `@rocicorp/zero` and its subpaths, for the front end: the 1.9.0 package (see the top). */
const ZERO_1_9 = {find: /^@rocicorp\/zero(?=\/|$)/, replacement: 'zero-1.9'};

export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch((e) => log(`demo: ${e}`));
  };
  try {
    const upstreamUrl = opts.upstreamUrl ?? (await embeddedDatabase(opts, stops));
    const sql = postgres(upstreamUrl, {onnotice: () => {}});
    await seedDemo(sql).finally(() => sql.end());
    const apiPort = opts.apiPort ?? 4850;
    await startProcess(
      'api',
      API_ENTRY,
      {
        // tsx resolves `@rocicorp/zero…` by this tsconfig's `paths`: to Zero 1.9.0.
        TSX_TSCONFIG_PATH: APP_TSCONFIG,
        ZERO_UPSTREAM_DB: upstreamUrl,
        PORT: String(apiPort),
      },
      /api server listening/,
      log,
      stops,
    );
    const zcacheUrl = await startZcache(opts, upstreamUrl, apiPort, log, stops);
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
  apiPort: number,
  log: (line: string) => void,
  stops: (() => Promise<void>)[],
): Promise<string> {
  const port = opts.zcachePort ?? 4848;
  const apiBase = `http://127.0.0.1:${apiPort}/api`;
  await startProcess(
    'zcache',
    ZCACHE_ENTRY,
    {
      NODE_ENV: 'development',
      ZERO_UPSTREAM_DB: upstreamUrl,
      ZERO_REPLICA_FILE: path.join(opts.dataDir, 'replica.db'),
      ZERO_QUERY_URL: `${apiBase}/query`,
      ZERO_MUTATE_URL: `${apiBase}/mutate`,
      ZERO_PORT: String(port),
      ZERO_CHANGE_STREAMER_PORT: String(port + 1),
      ZERO_NUM_SYNC_WORKERS: '1',
    },
    /zcache ready/,
    log,
    stops,
  );
  return `http://localhost:${port}`;
}

/**
 * Runs `entry` (TypeScript, through tsx) as a child process with `env` on top of PATH and HOME,
 * its output logged as `[name] …`, and resolves once it writes a line matching `ready`.
 */
async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  log: (line: string) => void,
  stops: (() => Promise<void>)[],
): Promise<void> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, entry], {
    env: {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stops.push(() => stopChild(child));
  // If the runner dies without stopping it, the child must not linger on its ports.
  process.once('exit', () => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      log(`[${name}] ${line}`);
      if (ready.test(line)) resolve();
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
      reject(new Error(`${name} exited (code ${code}) before it was ready`)),
    );
  });
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
    resolve: {alias: [ZERO_1_9]},
    define: {'import.meta.env.VITE_PUBLIC_ZERO_CACHE_URL': JSON.stringify(zcacheUrl)},
    server: {port: opts.webPort ?? 5173, strictPort: true, host: 'localhost'},
    logLevel: 'warn',
  });
  await server.listen();
  for (const l of process.listeners('SIGTERM')) if (!sigterm.has(l)) process.off('SIGTERM', l);
  for (const l of process.stdin.listeners('end'))
    if (!stdinEnd.has(l)) process.stdin.off('end', l as () => void);
  return server;
}
