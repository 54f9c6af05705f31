import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import Database from 'better-sqlite3';
import type postgres from 'postgres';
import {lsnToWatermark} from '../../src/shared/lsn.js';
import {versionFromLexi, type LexiVersion} from '../../src/shared/lexi-version.js';
import {eventually} from './eventually.js';
import {freePort} from './ports.js';
import {expectReplicaEqualsUpstream, type ColumnKind} from './replica-compare.js';

/**
 * zcache as a separate OS process, started the way a user starts it: `node` running
 * src/bin/zero-cache.ts (through tsx's loader, no build step), with its own environment, working
 * directory and port, stdout and stderr captured. Whole-system tests start, signal, kill and
 * restart it; nothing in the process is mocked.
 *
 * The process leads its own process group, so a kill reaches any workers it spawned and a test
 * never leaves orphans behind. Only variables the test passes (plus PATH/HOME-like basics) reach
 * the process: ZERO_*, NODE_ENV and VITEST* of the test runner are not inherited.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'src/bin/zero-cache.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ZcacheProcess {
  readonly pid: number;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Both streams, line by line, in arrival order. */
  readonly lines: readonly string[];
  /** Set once the process has exited. */
  readonly exit: Exit | undefined;
  /** Resolves with the first line (from line index `from` on) that matches. Rejects on exit or timeout. */
  waitForLine(pattern: RegExp, opts?: {timeoutMs?: number; from?: number}): Promise<string>;
  /** Resolves when the process exits; rejects (and says what the process wrote) after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<Exit>;
  /** Sends `signal` to the process (with `group`, to its whole process group). */
  signal(signal: NodeJS.Signals, opts?: {group?: boolean}): void;
  /** SIGKILLs the whole process group and waits for the exit. Safe to call when already exited. */
  kill(): Promise<Exit>;
  /** The captured output, for assertion messages. */
  describe(): string;
}

export interface SpawnOptions {
  /** The process's environment on top of a minimal base (see `baseEnv`). `undefined` unsets. */
  env?: Record<string, string | undefined>;
  args?: string[];
  /** Extra flags for `node` itself (e.g. --cpu-prof), before the entry point. */
  nodeArgs?: string[];
  /** The script to run instead of src/bin/zero-cache.ts (e.g. the demo runner). */
  entry?: string;
  /** Working directory; the .env file zcache reads is looked up here. Default: a fresh temp dir. */
  cwd?: string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) killGroup(c, 'SIGKILL');
});

/** What any process needs from the runner's environment; everything else comes from the test. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'USER', 'SHELL'];
  const env: Record<string, string> = {};
  for (const k of keep) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export function spawnZcache(opts: SpawnOptions = {}): ZcacheProcess {
  const env: Record<string, string> = baseEnv();
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  let ownCwd: string | undefined;
  const cwd = opts.cwd ?? (ownCwd = mkdtempSync(path.join(tmpdir(), 'zcache-cwd-')));
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--import', TSX_LOADER, opts.entry ?? ENTRY, ...(opts.args ?? [])],
    {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  live.add(child);
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  const splitter = (append: (s: string) => void) => {
    let partial = '';
    return {
      data(chunk: Buffer) {
        const text = chunk.toString('utf8');
        append(text);
        const parts = (partial + text).split('\n');
        partial = parts.pop()!;
        lines.push(...parts);
        notify();
      },
      end() {
        if (partial) lines.push(partial);
        partial = '';
        notify();
      },
    };
  };
  const out = splitter((s) => (stdout += s));
  const err = splitter((s) => (stderr += s));
  child.stdout!.on('data', out.data).on('end', out.end);
  child.stderr!.on('data', err.data).on('end', err.end);

  let exit: Exit | undefined;
  // 'close' (not 'exit'): the output streams are complete by then.
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(child);
      exit = {code, signal};
      // The group may hold children of the process that outlived it.
      killGroup(child, 'SIGKILL');
      if (ownCwd) rmSync(ownCwd, {recursive: true, force: true});
      notify();
      resolve(exit);
    });
  });

  const proc: ZcacheProcess = {
    pid: child.pid!,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get lines() {
      return lines;
    },
    get exit() {
      return exit;
    },
    waitForLine(pattern, {timeoutMs = 20_000, from = 0} = {}) {
      return new Promise((resolve, reject) => {
        let scanned = from;
        const check = () => {
          for (; scanned < lines.length; scanned++) {
            const line = lines[scanned]!;
            if (pattern.test(line)) return done(() => resolve(line));
          }
          if (exit) {
            return done(() =>
              reject(
                new Error(
                  `zcache exited (${fmtExit(exit!)}) before a line matched ${pattern}\n${proc.describe()}`,
                ),
              ),
            );
          }
        };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(
                new Error(`no line matched ${pattern} within ${timeoutMs} ms\n${proc.describe()}`),
              ),
            ),
          timeoutMs,
        );
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    async waitForExit(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`zcache did not exit within ${timeoutMs} ms\n${proc.describe()}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    signal(signal, {group = false} = {}) {
      if (exit) return;
      if (group) killGroup(child, signal);
      else child.kill(signal);
    },
    async kill() {
      if (!exit) killGroup(child, 'SIGKILL');
      return exited;
    },
    describe() {
      const tail = lines.slice(-60).join('\n');
      return `--- zcache pid ${child.pid} (${exit ? fmtExit(exit) : 'running'}), last lines:\n${tail}\n---`;
    },
  };
  return proc;
}

function fmtExit(e: Exit): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

/**
 * One zcache installation: a folder (replica file, working directory), a port, and an upstream.
 * `start()` may be called again after the previous process exited: the folder and port stay, as
 * when a user restarts the server.
 */
export interface ZcacheNode {
  readonly dir: string;
  readonly replicaFile: string;
  readonly port: number;
  readonly env: Record<string, string | undefined>;
  /** The running (or last) process. */
  readonly proc: ZcacheProcess | undefined;
  start(extraEnv?: Record<string, string | undefined>): ZcacheProcess;
  /** Starts and waits until replication streams (after initial sync or resume). */
  startAndWaitStreaming(
    extraEnv?: Record<string, string | undefined>,
    timeoutMs?: number,
  ): Promise<ZcacheProcess>;
  /** Kills any running process and deletes the folder. */
  close(): Promise<void>;
}

export const STREAMING_LINE = /streaming slot "[^"]+"/;

export async function createZcacheNode(opts: {
  upstreamUrl: string;
  env?: Record<string, string | undefined>;
  /** Extra flags for `node` (e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']). */
  nodeArgs?: string[];
}): Promise<ZcacheNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-node-'));
  const replicaFile = path.join(dir, 'zero.db');
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ZERO_UPSTREAM_DB: opts.upstreamUrl,
    ZERO_REPLICA_FILE: replicaFile,
    ZERO_PORT: String(port),
    NODE_ENV: 'development',
    ZERO_LOG_LEVEL: process.env.ZCACHE_TEST_LOG === '1' ? 'debug' : 'info',
    ZERO_NUM_SYNC_WORKERS: '1',
    ...opts.env,
  };
  let proc: ZcacheProcess | undefined;
  const node: ZcacheNode = {
    dir,
    replicaFile,
    port,
    env,
    get proc() {
      return proc;
    },
    start(extraEnv = {}) {
      if (proc && !proc.exit) throw new Error(`zcache is still running (pid ${proc.pid})`);
      proc = spawnZcache({env: {...env, ...extraEnv}, cwd: dir, nodeArgs: opts.nodeArgs});
      return proc;
    },
    async startAndWaitStreaming(extraEnv = {}, timeoutMs = 30_000) {
      const p = node.start(extraEnv);
      await p.waitForLine(STREAMING_LINE, {timeoutMs});
      return p;
    },
    async close() {
      await proc?.kill();
      rmSync(dir, {recursive: true, force: true});
    },
  };
  return node;
}

/** The replica's `_zero.replicationState.stateVersion`, or null when there is none yet. */
export function replicaStateVersion(replicaFile: string): LexiVersion | null {
  let db: Database.Database;
  try {
    db = new Database(replicaFile, {readonly: true, fileMustExist: true});
  } catch {
    return null;
  }
  try {
    const row = db.prepare('SELECT "stateVersion" FROM "_zero.replicationState"').get() as
      {stateVersion: string} | undefined;
    return row?.stateVersion ?? null;
  } catch {
    return null;
  } finally {
    db.close();
  }
}

/** The replica's `_zero.replicationConfig` (slot, replicaVersion), or null. */
export function replicaConfig(
  replicaFile: string,
): {slot: string; replicaVersion: string; publications: string[]} | null {
  let db: Database.Database;
  try {
    db = new Database(replicaFile, {readonly: true, fileMustExist: true});
  } catch {
    return null;
  }
  try {
    const row = db.prepare('SELECT * FROM "_zero.replicationConfig"').get() as
      {slot: string; replicaVersion: string; publications: string} | undefined;
    return row ? {...row, publications: JSON.parse(row.publications) as string[]} : null;
  } catch {
    return null;
  } finally {
    db.close();
  }
}

/**
 * Upstream's current WAL insert position as a watermark. Every transaction committed before the
 * call has a smaller watermark; every one that starts committing after it has a larger or equal one.
 * To wait for "everything so far", take the position, commit one more change to a published table,
 * then `waitForStateVersion(file, position)`.
 */
export async function upstreamPosition(sql: postgres.Sql): Promise<LexiVersion> {
  const [row] = await sql<{lsn: string}[]>`SELECT pg_current_wal_insert_lsn()::text AS lsn`;
  return lsnToWatermark(row!.lsn);
}

/** Waits until the replica's stateVersion is at least `atLeast`. */
export async function waitForStateVersion(
  replicaFile: string,
  atLeast: LexiVersion,
  timeoutMs = 30_000,
  proc?: ZcacheProcess,
): Promise<LexiVersion> {
  return eventually(() => {
    if (proc?.exit)
      throw new Error(`zcache exited while waiting for ${atLeast}\n${proc.describe()}`);
    const v = replicaStateVersion(replicaFile);
    if (v === null || versionFromLexi(v) < versionFromLexi(atLeast)) {
      throw new Error(
        `replica stateVersion ${v} has not reached ${atLeast} within ${timeoutMs} ms` +
          (proc ? `\n${proc.describe()}` : ''),
      );
    }
    return v;
  }, timeoutMs);
}

export interface TableToCompare {
  upstream: string;
  replica: string;
  columns: Record<string, ColumnKind>;
  key: string[];
}

/** Waits until every table in the replica equals its upstream table, value by value. */
export async function waitForReplicaToEqualUpstream(
  sql: postgres.Sql,
  replicaFile: string,
  tables: TableToCompare[],
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(async () => {
    for (const t of tables) {
      await expectReplicaEqualsUpstream(sql, replicaFile, t, t.columns, t.key);
    }
  }, timeoutMs);
}
