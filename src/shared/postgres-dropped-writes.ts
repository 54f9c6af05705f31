import {ConnectionLostError} from './connection-loss.js';

/**
 * A process-wide signal (the one piece of state in shared/, because the defect is process-wide):
 * postgres.js 3.4.9 can drop a write queued on a connection Postgres has just closed (see
 * server/closed-socket-write-guard.ts), and the query it belonged to then never settles. Code that
 * awaits queries races them with `droppedWriteAfter()` (or runs them in `settledOrLost`), so that
 * such a query fails as a lost connection instead of hanging its caller forever. That holds for
 * pooled queries too: the pool can hand a query to a connection whose socket just closed.
 */
let listeners = new Set<() => void>();

/** Called by the guard when it dropped a write. */
export function noteDroppedWrite(): void {
  const notify = listeners;
  listeners = new Set();
  for (const l of notify) l();
}

/**
 * Rejects with ConnectionLostError when a write is dropped from now on; `cancel` when the work it
 * guards has settled.
 */
export function droppedWriteAfter(what: string): {dropped: Promise<never>; cancel(): void} {
  let listener: () => void = () => {};
  const dropped = new Promise<never>((_, reject) => {
    listener = () =>
      reject(new ConnectionLostError(`${what}: its connection closed while it was being sent`));
    listeners.add(listener);
  });
  dropped.catch(() => {});
  return {dropped, cancel: () => listeners.delete(listener)};
}

/**
 * `work()`, or a ConnectionLostError as soon as a write is dropped while it runs. The signal is
 * process-wide, so work on a healthy connection can fail this way too (and may still complete on
 * the server): callers must treat the error like any lost connection, retrying or reloading.
 */
export async function settledOrLost<T>(what: string, work: () => Promise<T>): Promise<T> {
  const lost = droppedWriteAfter(what);
  try {
    return await Promise.race([work(), lost.dropped]);
  } finally {
    lost.cancel();
  }
}
