/**
 * Whether an error means "the database could not be reached, or the connection to it was lost" —
 * a condition that ends by itself when the server is back (restarted, network healed), so the
 * caller should wait and retry — as opposed to an error that retrying cannot fix (a dropped
 * replication slot, a bad password, a broken invariant). Looks through `cause` chains.
 */

/** Thrown by code that saw its connection end without an error object of the driver's. */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
}

/** Node socket errors and postgres.js connection errors. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/** Postgres SQLSTATEs of a server going away or not accepting connections yet. */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown: terminated (smart/fast shutdown, pg_terminate_backend)
  '57P02', // crash_shutdown: another process crashed, or an immediate shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, in recovery
  '53300', // too_many_connections
  '55006', // object_in_use: e.g. the slot is still held by a walsender that has not noticed yet
]);

export function isConnectionLoss(e: unknown): boolean {
  for (let err = e, depth = 0; err && depth < 8; err = (err as {cause?: unknown}).cause, depth++) {
    if (err instanceof ConnectionLostError) return true;
    const code = (err as {code?: unknown}).code;
    if (typeof code !== 'string') continue;
    if (TRANSIENT_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || code.startsWith('08'))
      return true;
  }
  return false;
}

/**
 * A short reason for a log line: the innermost error's code and message, e.g.
 * "ECONNREFUSED 127.0.0.1:5432" or "57P01 terminating connection due to administrator command".
 */
export function connectionLossReason(e: unknown): string {
  let innermost = e;
  for (let depth = 0; depth < 8; depth++) {
    const cause = (innermost as {cause?: unknown} | undefined)?.cause;
    if (!cause) break;
    innermost = cause;
  }
  const err = innermost as {code?: unknown; message?: unknown};
  const message = typeof err?.message === 'string' ? err.message : String(innermost);
  const code = typeof err?.code === 'string' ? err.code : undefined;
  if (!code) return message;
  // Node's socket messages already start with the code ("connect ECONNREFUSED 127.0.0.1:5432").
  const withoutCode = message.replace(/^(connect |read |write )?/, '').replace(`${code} `, '');
  return message.includes(code) ? `${code} ${withoutCode}` : `${code} ${message}`;
}
