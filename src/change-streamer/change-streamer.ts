import type {ChangeStreamMessage, DataChange} from '../protocol/change-stream.js';
import type {SourceEvent} from '../replication/change-maker.js';
import type {ChangeSource} from '../replication/pg-change-source.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeLog} from './change-log.js';
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
 */
type StoredTx = {watermark: LexiVersion; changes: DataChange[]};
type PendingTx = StoredTx & {commit: Extract<SourceEvent, {type: 'commit'}>};

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

  constructor(changeLog: ChangeLog, lastWatermark: LexiVersion, logger: Logger) {
    this.#log = changeLog;
    this.#logger = logger;
    this.#stored = new WatermarkSignal(lastWatermark);
  }

  get lastStored(): LexiVersion {
    return this.#stored.current;
  }

  /** Runs until the source ends or fails (the error propagates). */
  async run(source: ChangeSource): Promise<void> {
    let tx: StoredTx | null = null;
    let lastSeen = this.#stored.current;
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
        if (tx.watermark <= lastSeen) {
          // Replayed after a restart whose ack had not reached upstream: already stored.
          this.#logger.debug(
            `change-streamer: skipping already stored transaction ${tx.watermark}`,
          );
          if (!this.#storing && this.#pending.length === 0) source.ack(ev);
        } else {
          lastSeen = tx.watermark;
          this.#pending.push({...tx, commit: ev});
          this.#arrived(tx);
          this.#kickStorer(source);
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

  #kickStorer(source: ChangeSource): void {
    if (this.#storing) return;
    this.#storing = (async () => {
      try {
        while (this.#pending.length > 0) {
          const batch = this.#pending;
          this.#pending = [];
          this.#inFlight = batch;
          await this.#log.storeMany(batch);
          this.#inFlight = [];
          for (const t of batch) this.#published(t);
          source.ack(batch[batch.length - 1]!.commit);
        }
      } catch (e) {
        this.#storeError = e;
      } finally {
        this.#storing = null;
      }
    })();
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

  /** Every stored transaction after `after`, then each new one as it is stored, until `signal` aborts. */
  async *subscribe(after: LexiVersion, signal: AbortSignal): AsyncGenerator<ChangeStreamMessage> {
    const sub: LiveSubscriber = {buffer: [], overflowed: true};
    this.#live.add(sub);
    let position = after;
    try {
      while (!signal.aborted) {
        if (sub.overflowed) {
          // Catch up from the log; transactions stored meanwhile also land in the buffer.
          sub.overflowed = false;
          sub.buffer = [];
          for await (const msg of this.#log.readAfter(position)) {
            yield msg;
            if (msg[0] === 'commit') position = msg[2].watermark;
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
