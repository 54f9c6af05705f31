import type {ChangeStreamMessage, DataChange} from '../protocol/change-stream.js';
import type {SourceEvent} from '../replication/change-maker.js';
import type {ChangeSource} from '../replication/pg-change-source.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeLog} from './change-log.js';
import {WatermarkSignal} from './watermark-signal.js';

/**
 * Moves committed transactions from a ChangeSource into the change log, and serves subscribers from
 * the log. Invariant 1 of the architecture lives here: a commit is acked to the source only after
 * the transaction is stored. Subscribers always read from the log (catch-up and live are one path),
 * woken when a newer transaction is stored.
 */
export class ChangeStreamer {
  readonly #log: ChangeLog;
  readonly #logger: Logger;
  readonly #stored: WatermarkSignal;

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
    let tx: {watermark: LexiVersion; changes: DataChange[]} | null = null;
    for await (const ev of source) {
      if (ev.type === 'status') {
        // Everything before it is stored (transactions are stored in order, one at a time).
        if (!tx) source.ack(ev);
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
        await this.#storeAndAck(source, tx, ev);
        tx = null;
      }
    }
  }

  async #storeAndAck(
    source: ChangeSource,
    tx: {watermark: LexiVersion; changes: DataChange[]},
    commit: Extract<SourceEvent, {type: 'commit'}>,
  ): Promise<void> {
    if (tx.watermark <= this.#stored.current) {
      // Replayed after a restart whose ack had not reached upstream: already stored.
      this.#logger.debug(`change-streamer: skipping already stored transaction ${tx.watermark}`);
    } else {
      await this.#log.store(tx.watermark, tx.changes);
      this.#stored.advance(tx.watermark);
    }
    source.ack(commit);
  }

  /** Every stored transaction after `after`, then each new one as it is stored, until `signal` aborts. */
  async *subscribe(after: LexiVersion, signal: AbortSignal): AsyncGenerator<ChangeStreamMessage> {
    let position = after;
    while (!signal.aborted) {
      for await (const msg of this.#log.readAfter(position)) {
        yield msg;
        if (msg[0] === 'commit') position = msg[2].watermark;
      }
      await this.#stored.waitBeyond(position, signal);
    }
  }
}
