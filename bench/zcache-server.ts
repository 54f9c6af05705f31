import {execFileSync, spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {freePort} from '../test/support/ports.js';

/**
 * zcache started as a user starts it in production (supervisor and children), for end-to-end
 * benchmarks: the compiled build (`dist/`, built once per benchmark run by `buildZcache`), not
 * TypeScript through tsx, whose in-process compiler would add its own time and memory.
 */
export interface ZcacheServer {
  url: string;
  /** The supervisor's pid (its children are the replication process and the sync workers). */
  pid: number;
  /** Milliseconds from spawn to the "zcache ready" line. */
  readyMs: number;
  /** Everything the server wrote to stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = path.join(ROOT, 'dist/bin/zero-cache.js');
let built = false;

/** Compiles src/ into dist/ (once per process). */
export function buildZcache(): void {
  if (built) return;
  execFileSync(
    process.execPath,
    [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  built = true;
}

export async function startZcacheServer(
  upstreamUrl: string,
  env: Record<string, string> = {},
): Promise<ZcacheServer> {
  buildZcache();
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-bench-server-'));
  const port = await freePort();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles every process (the
    // children inherit the supervisor's exec arguments).
    [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ENTRY],
    {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'development',
        ZERO_UPSTREAM_DB: upstreamUrl,
        ZERO_REPLICA_FILE: path.join(dir, 'zero.db'),
        ZERO_PORT: String(port),
        ZERO_LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  const readyMs = await new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (/zcache ready/.test(log)) resolve(performance.now() - started);
    });
    child.on('exit', (code) =>
      reject(new Error(`zcache exited (${code}) before ready:\n${log.slice(-2000)}`)),
    );
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    readyMs,
    log: () => log,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, {recursive: true, force: true});
    },
  };
}
