import {Worker} from 'node:worker_threads';

/**
 * Copies a replica file with `VACUUM INTO` on a worker thread, so that the process keeps
 * replicating while a large replica is copied (on the caller's own connection the copy would
 * block its event loop for the whole copy). The worker opens its own read-only connection; the
 * copy is the replica at one commit (one read transaction), like the in-thread copy.
 *
 * Not guaranteed: that the copy reflects commits made after the call; it reflects some commit at
 * or after the one current when the worker's transaction began.
 */
const WORKER_SOURCE = `
const {parentPort, workerData} = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
let db;
try {
  db = new Database(workerData.replica, {readonly: true, fileMustExist: true});
  db.pragma('busy_timeout = 30000');
  db.prepare('VACUUM INTO ?').run(workerData.into);
  parentPort.postMessage({ok: true});
} catch (e) {
  parentPort.postMessage({ok: false, message: e && e.message ? e.message : String(e)});
} finally {
  if (db) db.close();
}
`;

export type SnapshotCopier = (replicaFile: string, into: string) => Promise<void>;

export function copyOnWorkerThread(betterSqlite3Path: string): SnapshotCopier {
  return (replica, into) =>
    new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {replica, into, betterSqlite3: betterSqlite3Path},
      });
      let answered = false;
      worker.once('message', (m: {ok: boolean; message?: string}) => {
        answered = true;
        if (m.ok) resolve();
        else reject(new Error(`backup: VACUUM INTO ${into} failed: ${m.message}`));
      });
      worker.once('error', (e) =>
        reject(new Error(`backup: copy worker failed: ${(e as Error)?.message ?? String(e)}`)),
      );
      worker.once('exit', (code) => {
        if (!answered) reject(new Error(`backup: copy worker exited (${code}) without an answer`));
      });
    });
}
