import {readFileSync} from 'node:fs';
import {childPids} from '../test/server/process-tree.js';

/**
 * Memory of a process and all its descendants, from /proc: RSS counts shared pages (the node
 * binary, SQLite's file cache) once per process; PSS divides them among their sharers, so it adds
 * up to what the tree really costs the machine.
 */
export interface TreeMemory {
  processes: number;
  rssBytes: number;
  pssBytes: number;
}

export function treeMemory(rootPid: number): TreeMemory {
  const pids = [rootPid];
  for (let i = 0; i < pids.length; i++) pids.push(...childPids(pids[i]!));
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    rss += kilobytes(`/proc/${pid}/status`, 'VmRSS') * 1024;
    pss += kilobytes(`/proc/${pid}/smaps_rollup`, 'Pss') * 1024;
  }
  return {processes: pids.length, rssBytes: rss, pssBytes: pss};
}

function kilobytes(file: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // the process ended
  }
}
