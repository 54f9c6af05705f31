import type {ChangeSource} from '../replication/pg-change-source.js';
import {Backoff, seconds, sleepUnlessAborted, type BackoffOptions} from '../shared/backoff.js';
import {connectionLossReason, isConnectionLoss} from '../shared/connection-loss.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeStreamer} from './change-streamer.js';

/**
 * Keeps the change streamer fed from upstream across outages. When the replication connection is
 * lost or refused (Postgres restarted, stopped, unreachable), it says so and opens a new source
 * with capped exponential back-off, resuming after the last transaction the change log stored;
 * upstream replays from the slot whatever was not acked, and the streamer drops what it already
 * has. Everything downstream (the replica, connected clients) goes on serving meanwhile.
 *
 * Anything that retrying cannot fix (the slot is gone, an undecodable message, a broken
 * invariant) ends `followUpstream` with that error. It returns when `signal` aborts, after closing
 * the current source.
 */
export interface FollowUpstreamOptions {
  streamer: ChangeStreamer;
  /** Opens a source that yields the transactions after `after`. */
  openSource: (after: LexiVersion) => Promise<ChangeSource>;
  log: Logger;
  signal: AbortSignal;
  /** Default: from 1 s, doubling, at most 10 s, with jitter. */
  retry?: BackoffOptions;
  now?: () => number;
}

export async function followUpstream(o: FollowUpstreamOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const backoff = new Backoff(o.retry);
  let current: ChangeSource | undefined;
  const closeCurrent = () => void current?.close().catch(() => {});
  o.signal.addEventListener('abort', closeCurrent, {once: true});
  let lostAt: number | undefined;
  try {
    while (!o.signal.aborted) {
      try {
        const after = o.streamer.lastStored;
        current = await o.openSource(after);
        if (o.signal.aborted) break;
        if (lostAt !== undefined) {
          o.log.info(
            `replication: upstream is back after ${seconds(now() - lostAt)} ` +
              `(${backoff.attempts} attempts); resuming after ${after}`,
          );
          lostAt = undefined;
        }
        backoff.reset();
        await o.streamer.run(current);
        if (o.signal.aborted) break;
        throw new Error('replication: the upstream stream ended unexpectedly');
      } catch (e) {
        await current?.close().catch(() => {});
        current = undefined;
        if (o.signal.aborted) break;
        if (!isConnectionLoss(e)) throw e;
        lostAt ??= now();
        const wait = backoff.next();
        o.log.warn(
          `replication: upstream unreachable (${connectionLossReason(e)}): retrying in ` +
            `${seconds(wait)} (attempt ${backoff.attempts}, down for ${seconds(now() - lostAt)}); ` +
            `clients are served from the replica meanwhile`,
        );
        await sleepUnlessAborted(wait, o.signal);
      }
    }
  } finally {
    o.signal.removeEventListener('abort', closeCurrent);
    await current?.close().catch(() => {});
  }
}
