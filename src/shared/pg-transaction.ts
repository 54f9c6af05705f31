import type postgres from 'postgres';
import {ConnectionLostError, isConnectionLoss} from './connection-loss.js';
import {droppedWriteAfter} from './postgres-dropped-writes.js';

/**
 * How long COMMIT or ROLLBACK may take before the connection is taken for lost. postgres.js 3.4.9
 * drops a write queued on a reserved connection that Postgres has just closed
 * (see server/closed-socket-write-guard.ts), and the statement would then never settle.
 */
const END_TRANSACTION_DEADLINE_MS = 15_000;

/**
 * Runs `session` on a connection reserved from `sql`, then gives it back to the pool — unless it
 * was lost. postgres.js 3.4.9 has moved a lost reserved connection to its closed queue already;
 * `release()` would put that dead connection back among the open ones, where the next query
 * written to it throws from a setImmediate and never settles (porsager/postgres#1199, #1208).
 * A write postgres.js drops fails the session at once (`droppedWriteAfter`); the session itself
 * may still be running on a healthy connection, which is released when it settles.
 */
export async function onReservedConnection<T>(
  sql: postgres.Sql,
  what: string,
  session: (conn: postgres.ReservedSql) => Promise<T>,
): Promise<T> {
  const conn = await sql.reserve();
  const lost = droppedWriteAfter(what);
  const run = session(conn);
  void run.then(
    () => conn.release(),
    (e: unknown) => {
      if (!isConnectionLoss(e)) conn.release();
    },
  );
  try {
    return await Promise.race([run, lost.dropped]);
  } finally {
    lost.cancel();
  }
}

/**
 * Runs `work` in one transaction (`BEGIN <mode>`, `work`, COMMIT) on a reserved connection. It
 * replaces postgres.js's `sql.begin` on paths that must outlive Postgres going away: `sql.begin`
 * sends ROLLBACK on a connection Postgres has closed, which postgres.js 3.4.9 writes to the dead
 * socket and throws from a setImmediate. Here a lost connection gets no ROLLBACK (the server
 * rolled back already) and is not released (see `onReservedConnection`), and COMMIT and ROLLBACK
 * are bounded. Does not retry; after an error `isConnectionLoss` accepts, whether a COMMIT in
 * flight took effect is unknown to the caller.
 */
export function inTransaction<T>(
  sql: postgres.Sql,
  what: string,
  mode: string,
  work: (tx: postgres.ReservedSql) => Promise<T>,
): Promise<T> {
  return onReservedConnection(sql, what, async (tx) => {
    await tx.unsafe(`BEGIN ${mode}`);
    let result: T;
    try {
      result = await work(tx);
    } catch (e) {
      if (!isConnectionLoss(e)) await endTransaction(tx, 'ROLLBACK', what);
      throw e;
    }
    await endTransaction(tx, 'COMMIT', what);
    return result;
  });
}

/** COMMIT or ROLLBACK, failing as a lost connection when it does not settle in time. */
export async function endTransaction(
  tx: postgres.ReservedSql,
  statement: 'COMMIT' | 'ROLLBACK',
  what: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ConnectionLostError(
            `${what}: ${statement} did not settle within ${END_TRANSACTION_DEADLINE_MS} ms; ` +
              'the connection is taken for lost (the outcome of a COMMIT is unknown until read again)',
          ),
        ),
      END_TRANSACTION_DEADLINE_MS,
    );
  });
  try {
    await Promise.race([tx.unsafe(statement), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
