import {ProtocolError} from '../protocol/sync-errors.js';
import {connectionLossReason, isConnectionLoss} from '../shared/connection-loss.js';
import {internalErrorMessage, newErrorId} from '../shared/error-id.js';
import type {Logger} from '../shared/log.js';
import {
  ClientGroupPurgedError,
  ConcurrentModificationError,
  OwnershipError,
} from './cvr-store-errors.js';

/**
 * What a failed load or step of a client group means for it and its clients. Every client of the
 * group is closed with `error`, the one whose request failed (perhaps not admitted yet) included.
 * Each answer makes the Zero client reconnect — it stops for good on `Internal` — except
 * ClientNotFound (its group is gone; it starts afresh) and the group's own protocol errors (a
 * failed transform). `then`: what the group does next.
 * - Ownership lost or a concurrent writer: Rehome; the group `stop`s (a new connection to this
 *   node makes a new group, which loads the CVR again).
 * - ZERO_CVR_DB unreachable: reconnect after a back-off; `reload` the CVR.
 * - Anything else: the in-memory CVR may have diverged from the store: `reload` what was last
 *   flushed. Left connected, the clients would wait for pokes a group without its CVR never sends.
 */
export interface FailureAnswer {
  error: ProtocolError;
  then: 'stop' | 'reload' | 'keep';
}

export function answerGroupFailure(e: unknown, clientGroupID: string, log: Logger): FailureAnswer {
  if (e instanceof OwnershipError || e instanceof ConcurrentModificationError) {
    // Which task owns the group, and since when, is the operator's business: it goes to the log.
    log.info(`group ${clientGroupID}: ${e.message}; clients rehome`);
    const error = ProtocolError.of('Rehome', 'Another zcache instance serves this client group', {
      maxBackoffMs: 0,
    });
    return {error, then: 'stop'};
  }
  if (e instanceof ClientGroupPurgedError) {
    const error = ProtocolError.of('ClientNotFound', 'Client group was purged due to inactivity');
    return {error, then: 'keep'};
  }
  // The group's own error, e.g. its API server failed a transform: every client gets it.
  if (e instanceof ProtocolError) return {error: e, then: 'reload'};
  if (isConnectionLoss(e)) {
    log.warn(
      `group ${clientGroupID}: ZERO_CVR_DB unreachable (${connectionLossReason(e)}); ` +
        'its clients reconnect after a back-off and the CVR is reloaded',
    );
    return {error: cvrUnreachable(), then: 'reload'};
  }
  // The failure may quote a row, a host or a credential: only an id reaches the clients.
  const id = newErrorId();
  log.error(`group ${clientGroupID} failed (error id ${id})`, e);
  const error = ProtocolError.of(
    'Rebalance',
    `${internalErrorMessage('zcache failed to serve this client group', id)}; reconnecting`,
    {minBackoffMs: 1000},
  );
  return {error, then: 'reload'};
}

/**
 * Work cut short by the group's stop (a drain, its node failing): nothing failed. Its client
 * reconnects, to this node once restarted or to another.
 */
export function reconnectElsewhere(): ProtocolError {
  return ProtocolError.of('Rehome', 'Reconnect required', {maxBackoffMs: 0});
}

/** What a client is told while the group's CVR cannot be read or written: back off, reconnect. */
export function cvrUnreachable(): ProtocolError {
  return ProtocolError.of(
    'ServerOverloaded',
    'zcache cannot reach its CVR database right now; reconnect after a back-off',
    {minBackoffMs: 1000},
  );
}
