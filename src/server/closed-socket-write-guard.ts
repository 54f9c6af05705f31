import type {Logger} from '../shared/log.js';
import {noteDroppedWrite} from '../shared/postgres-dropped-writes.js';

/**
 * Survives a known postgres.js 3.4.9 defect (porsager/postgres#1154, #1208): when Postgres closes
 * a connection inside `sql.begin` (a restart, `pg_terminate_backend`), the transaction rejects,
 * but its callback goes on and then its ROLLBACK is queued on the dead connection; the write runs
 * from a setImmediate with the socket already gone and throws a TypeError no caller can catch,
 * which would take the whole process down. This error, recognised by its frame in postgres.js,
 * is logged and dropped, and `noteDroppedWrite` fails whatever raced its queries with
 * `droppedWriteAfter` (a query whose write was dropped would otherwise never settle). Every other uncaught exception still prints its
 * stack and exits 1, as Node does by default.
 */
export function guardClosedSocketWrites(log: Logger): void {
  process.on('uncaughtException', (e: unknown) => {
    if (isWriteToClosedSocket(e)) {
      noteDroppedWrite();
      log.warn(
        'postgres.js wrote to a connection Postgres had closed (porsager/postgres#1208); ' +
          'the transaction on it already failed, so the write is dropped',
      );
      return;
    }
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}

export function isWriteToClosedSocket(e: unknown): boolean {
  if (!(e instanceof TypeError)) return false;
  const stack = e.stack ?? '';
  return (
    /reading 'write'/.test(e.message) &&
    /\bnextWrite\b/.test(stack) &&
    /[\\/]postgres[\\/]src[\\/]connection\.js/.test(stack)
  );
}
