import type {ChangeStreamMessage, DataChange} from '../protocol/change-stream.js';
import type {SourceEvent} from '../replication/change-maker.js';
import type {ChangeSource} from '../replication/pg-change-source.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeLog} from './change-log.js';
import {
  Backoff,
  retryWhileTransient,
  seconds,
  sleepUnlessAborted,
  type BackoffOptions,
} from '../shared/backoff.js';
import {connectionLossReason, isConnectionLoss} from '../shared/connection-loss.js';
import {WatermarkSignal} from './watermark-signal.js';

/**
 * Moves committed transactions from a ChangeSource into the change log, and serves subscribers.
 *
 * Invariant 1 of the architecture lives here: a commit is acked to the source only after its
 * transaction is stored. Transactions that arrive while a store is in flight are stored together
 * in the next one (group commit), so throughput does not stop at one Postgres round trip per
 * upstream transaction.
 *
 * Subscribers catch up from the log, then receive newly stored transactions from memory; one that
 * falls more than MAX_BUFFERED transactions behind goes back to reading the log.
 *
 * The single node's own replicator may instead follow *arrivals* (`subscribeArrivals`): each
 * transaction as soon as upstream has committed it, before the change log has stored it, so the
 * replica does not wait for the change log's fsync. That does not weaken invariant 1 — upstream is
 * still acked only after the store — it only lets the replica run ahead of the log; after a crash
 * upstream replays whatever the log lacks (see ReplicationNode's resume rule). An arrival
 * subscriber that falls MAX_BUFFERED behind holds up streaming instead of dropping to the log.
 *
 * Outages: `run` may be called again with a new source after the previous one failed (see
 * upstream-reconnector.ts); transactions that arrived before are not taken twice (deduplicated by
 * watermark), and a transaction cut off mid-way is dropped whole. When ZERO_CHANGE_DB cannot be
 * reached, the storer keeps its batch and retries with back-off (a store whose outcome is unknown
 * is checked against the log's lastWatermark first), while arrivals pile up to MAX_PENDING and then
 * hold up the source; a subscriber's catch-up read from the log is retried the same way. Nothing is
 * acked upstream meanwhile. Only `signal` (the node stopping) ends the retries.
 */
type StoredTx = {watermark: LexiVersion; changes: DataChange[]};
type PendingTx = StoredTx & {commit: Extract<SourceEvent, {type: 'commit'}>};

export interface ChangeStreamerOptions {
  /** Aborts retries (the node is stopping). */
  signal?: AbortSignal;
  /** Back-off of retries against ZERO_CHANGE_DB. */
  retry?: BackoffOptions;
}

const MAX_PENDING = 1000;
const MAX_BUFFERED = 10_000;

interface LiveSubscriber {
  buffer: StoredTx[];
  overflowed: boolean;
}

interface ArrivalSubscriber {
  buffer: StoredTx[];
  wake: (() => void) | null;
}

export class ChangeStreamer {
  readonly #log: ChangeLog;
  readonly #logger: Logger;
  readonly #stored: WatermarkSignal;
  readonly #live = new Set<LiveSubscriber>();
  readonly #arrivals = new Set<ArrivalSubscriber>();
  #drainWaiters: (() => void)[] = [];
  #pending: PendingTx[] = [];
  /** The batch being stored (arrived, not yet in the log). */
  #inFlight: PendingTx[] = [];
  #storing: Promise<void> | null = null;
  #storeError: unknown;
  /** The newest transaction taken from a source (stored, or pending in memory). */
  #lastArrived: LexiVersion;
  /** The source of the current `run`: stored commits are acked to it. */
  #source: ChangeSource | undefined;
  readonly #opts: ChangeStreamerOptions;

  constructor(
    changeLog: ChangeLog,
    lastWatermark: LexiVersion,
    logger: Logger,
    opts: ChangeStreamerOptions = {},
  ) {
    this.#log = changeLog;
    this.#logger = logger;
    this.#stored = new WatermarkSignal(lastWatermark);
    this.#lastArrived = lastWatermark;
    this.#opts = opts;
  }

  get lastStored(): LexiVersion {
    return this.#stored.current;
  }

  /**
   * The newest transaction taken from upstream: a source opened after a failure may start after
   * the log's lastStored (upstream replays from its own acked position anyway).
   */
  get lastArrived(): LexiVersion {
    return this.#lastArrived;
  }

  /**
   * Runs until the source ends or fails (the error propagates). May be called again with a new
   * source once the previous run has returned.
   */
  async run(source: ChangeSource): Promise<void> {
    let tx: StoredTx | null = null;
    this.#source = source;
    for await (const ev of source) {
      if (this.#storeError) throw this.#storeError;
      if (ev.type === 'status') {
        // Everything before it has been handed to the storer; ack once nothing is in flight.
        if (!tx && !this.#storing && this.#pending.length === 0) source.ack(ev);
      } else if (ev.type === 'begin') {
        if (tx)
          throw new Error(`change-streamer: begin ${ev.commitWatermark} inside ${tx.watermark}`);
        tx = {watermark: ev.commitWatermark, changes: []};
      } else if (ev.type === 'data') {
        if (!tx) throw new Error(`change-streamer: ${ev.change.tag} outside a transaction`);
        tx.changes.push(ev.change);
      } else {
        if (!tx || tx.watermark !== ev.watermark) {
          throw new Error(
            `change-streamer: commit ${ev.watermark} does not match begin ${tx?.watermark}`,
          );
        }
        if (tx.watermark <= this.#lastArrived) {
          // Replayed after a restart whose ack had not reached upstream: already stored.
          this.#logger.debug(
            `change-streamer: skipping already stored transaction ${tx.watermark}`,
          );
          if (!this.#storing && this.#pending.length === 0) source.ack(ev);
        } else {
          this.#lastArrived = tx.watermark;
          this.#pending.push({...tx, commit: ev});
          this.#arrived(tx);
          this.#kickStorer();
          if (this.#pending.length >= MAX_PENDING) await this.#storing;
          while (this.#arrivalBacklog() >= MAX_BUFFERED) {
            await new Promise<void>((r) => this.#drainWaiters.push(r));
          }
        }
        tx = null;
      }
    }
    await this.#storing;
    if (this.#storeError) throw this.#storeError;
  }

  #kickStorer(): void {
    if (this.#storing) return;
    this.#storing = (async () => {
      const backoff = new Backoff(this.#opts.retry);
      try {
        while (this.#pending.length > 0) {
          const batch = this.#pending;
          this.#pending = [];
          this.#inFlight = batch;
          try {
            await this.#log.storeMany(batch);
          } catch (e) {
            if (!isConnectionLoss(e) || this.#opts.signal?.aborted) throw e;
            // Unknown whether it committed: put back what the log does not have, and retry.
            await this.#waitForChangeDb(e, backoff);
            this.#pending = [...(await this.#unstored(batch)), ...this.#pending];
            this.#inFlight = [];
            continue;
          }
          backoff.reset();
          this.#inFlight = [];
          for (const t of batch) this.#published(t);
          // Acked to the current source: LSNs are positions in upstream's WAL, not per session.
          this.#source?.ack(batch[batch.length - 1]!.commit);
        }
      } catch (e) {
        this.#storeError = e;
      } finally {
        this.#storing = null;
      }
    })();
  }

  async #waitForChangeDb(e: unknown, backoff: Backoff): Promise<void> {
    const wait = backoff.next();
    this.#logger.warn(
      `change log: ZERO_CHANGE_DB unreachable (${connectionLossReason(e)}): retrying in ` +
        `${seconds(wait)} (attempt ${backoff.attempts}); ` +
        `${this.#pending.length + this.#inFlight.length} transactions wait, upstream is not acked`,
    );
    await sleepUnlessAborted(wait, this.#opts.signal);
  }

  /** The transactions of `batch` that the log does not hold (a failed store may have committed). */
  async #unstored(batch: PendingTx[]): Promise<PendingTx[]> {
    const state = await retryWhileTransient(() => this.#log.state(), {
      isTransient: isConnectionLoss,
      describe: (e, wait) =>
        `change log: ZERO_CHANGE_DB unreachable (${connectionLossReason(e)}) while checking ` +
        `what a failed store committed: retrying in ${seconds(wait)}`,
      warn: (m) => this.#logger.warn(m),
      backoff: new Backoff(this.#opts.retry),
      signal: this.#opts.signal,
    });
    const last = state?.lastWatermark ?? this.#stored.current;
    const stored = batch.filter((t) => t.watermark <= last);
    if (stored.length) {
      this.#logger.info(
        `change log: the failed store of ${stored.length} transactions had committed`,
      );
      for (const t of stored) this.#published(t);
      this.#source?.ack(stored[stored.length - 1]!.commit);
    }
    return batch.filter((t) => t.watermark > last);
  }

  #published(t: PendingTx): void {
    this.#stored.advance(t.watermark);
    for (const sub of this.#live) {
      if (sub.overflowed) continue;
      sub.buffer.push({watermark: t.watermark, changes: t.changes});
      if (sub.buffer.length > MAX_BUFFERED) {
        sub.overflowed = true;
        sub.buffer = [];
      }
    }
  }

  #arrived(t: StoredTx): void {
    for (const sub of this.#arrivals) {
      sub.buffer.push({watermark: t.watermark, changes: t.changes});
      sub.wake?.();
      sub.wake = null;
    }
  }

  #arrivalBacklog(): number {
    let most = 0;
    for (const sub of this.#arrivals) most = Math.max(most, sub.buffer.length);
    return most;
  }

  #drained(): void {
    if (this.#arrivalBacklog() >= MAX_BUFFERED) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Every transaction after `after`: first those stored in the log, then each one as soon as it
   * arrives from upstream, stored or not (see the class comment), until `signal` aborts.
   */
  async *subscribeArrivals(
    after: LexiVersion,
    signal: AbortSignal,
  ): AsyncGenerator<ChangeStreamMessage> {
    // Arrived but not yet stored: neither in the log nor in a later arrival.
    const unstored = [...this.#inFlight, ...this.#pending];
    const sub: ArrivalSubscriber = {
      buffer: unstored.map((t) => ({watermark: t.watermark, changes: t.changes})),
      wake: null,
    };
    this.#arrivals.add(sub);
    const onAbort = () => sub.wake?.();
    signal.addEventListener('abort', onAbort);
    let position = after;
    try {
      for await (const msg of this.#log.readAfter(position)) {
        yield msg;
        if (msg[0] === 'commit') position = msg[2].watermark;
      }
      while (!signal.aborted) {
        while (sub.buffer.length > 0) {
          const t = sub.buffer.shift()!;
          this.#drained();
          if (t.watermark <= position) continue;
          yield* transactionMessages(t);
          position = t.watermark;
        }
        if (!signal.aborted) await new Promise<void>((r) => (sub.wake = r));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#arrivals.delete(sub);
      this.#drained();
    }
  }

  /**
   * Every stored transaction after `after`, then each new one as it is stored, until `signal`
   * aborts. A catch-up read that loses ZERO_CHANGE_DB is retried from the last whole transaction
   * (after a `rollback` if it stopped inside one).
   */
  async *subscribe(after: LexiVersion, signal: AbortSignal): AsyncGenerator<ChangeStreamMessage> {
    const sub: LiveSubscriber = {buffer: [], overflowed: true};
    this.#live.add(sub);
    let position = after;
    const backoff = new Backoff(this.#opts.retry);
    try {
      while (!signal.aborted) {
        if (sub.overflowed) {
          // Catch up from the log; transactions stored meanwhile also land in the buffer.
          sub.overflowed = false;
          sub.buffer = [];
          let inTransaction = false;
          try {
            for await (const msg of this.#log.readAfter(position)) {
              inTransaction = msg[0] !== 'commit';
              yield msg;
              if (msg[0] === 'commit') position = msg[2].watermark;
            }
            backoff.reset();
          } catch (e) {
            if (!isConnectionLoss(e) || signal.aborted) throw e;
            if (inTransaction) yield ['rollback', {tag: 'rollback'}];
            const wait = backoff.next();
            this.#logger.warn(
              `change log: reading after ${position} failed, ZERO_CHANGE_DB unreachable ` +
                `(${connectionLossReason(e)}): retrying in ${seconds(wait)}`,
            );
            await sleepUnlessAborted(wait, signal);
            sub.overflowed = true;
            continue;
          }
        }
        while (sub.buffer.length > 0 && !sub.overflowed) {
          const t = sub.buffer.shift()!;
          if (t.watermark <= position) continue;
          yield* transactionMessages(t);
          position = t.watermark;
        }
        if (!sub.overflowed) await this.#stored.waitBeyond(position, signal);
      }
    } finally {
      this.#live.delete(sub);
    }
  }
}

/** A buffered transaction as the stream messages a subscriber reads. */
function* transactionMessages(t: StoredTx): Generator<ChangeStreamMessage> {
  yield ['begin', {tag: 'begin'}, {commitWatermark: t.watermark}];
  for (const change of t.changes) yield ['data', change];
  yield ['commit', {tag: 'commit'}, {watermark: t.watermark}];
}
