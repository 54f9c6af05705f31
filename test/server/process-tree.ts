import {readdirSync, readFileSync} from 'node:fs';

/**
 * Linux process-table helpers (from /proc) for checking which child processes zcache runs and
 * that none outlive it.
 */

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** The pids of the direct children of `pid`. */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((p) => parentOf(p) === pid);
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The command line of `pid` (arguments joined by spaces), or '' when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** zcache's own child processes of `pid` (not helpers such as tsx's esbuild service). */
export function zcacheChildren(pid: number): {replication: number[]; syncWorkers: number[]} {
  const children = childPids(pid).map((p) => ({pid: p, cmd: commandLine(p)}));
  return {
    replication: children.filter((c) => /replication-process\.[jt]s/.test(c.cmd)).map((c) => c.pid),
    syncWorkers: children.filter((c) => /sync-worker-process\.[jt]s/.test(c.cmd)).map((c) => c.pid),
  };
}
