import type {WebSocket} from 'ws';
import {
  decodeAck,
  encodeFrame,
  type SubscribeParams,
  type SubscriptionMessage,
} from '../protocol/change-stream-wire.js';
import type {LexiVersion} from '../shared/lexi-version.js';

/**
 * One view-syncer's `/changes` socket, as the change-streamer server sees it.
 *
 * Flow control: frames are pipelined up to WINDOW unacknowledged ones (and a bounded socket
 * buffer). Acks are cumulative; the subscriber acks at every commit it has applied and every 1000
 * frames inside big transactions, never the opening `status` frame (any later ack covers it).
 * `acked` is the newest commit the subscriber is known to have applied; it bounds the change-log
 * purge, which is why a subscriber that stops acking must be noticed (`ackOverdueSince`).
 */
const WINDOW = 10_000;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_POLICY_VIOLATION = 1008;

export class ChangeStreamSubscription {
  readonly params: SubscribeParams;
  /** The newest commit watermark the subscriber acknowledged. */
  acked: LexiVersion;
  readonly #ws: WebSocket;
  readonly #abort = new AbortController();
  #nextId = 1;
  #ackedId = 0;
  /** Commits sent and not yet acknowledged: [frame id, watermark]. */
  readonly #commits: [number, LexiVersion][] = [];
  /**
   * Since when the subscriber has owed an ack without acknowledging anything new: set by the
   * first frame it must ack, moved on by every ack that advances, cleared when it owes nothing.
   */
  #owingSince: number | undefined;
  #wake: (() => void) | undefined;

  constructor(ws: WebSocket, params: SubscribeParams) {
    this.#ws = ws;
    this.params = params;
    this.acked = params.watermark;
    ws.on('close', () => this.#abort.abort());
    ws.on('message', (data) => {
      try {
        this.#onAck(decodeAck(data.toString()));
      } catch (e) {
        ws.close(CLOSE_PROTOCOL_ERROR, (e as Error).message.slice(0, 120));
      }
    });
  }

  /** Aborts when the socket closes or the subscription is dropped. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Sends `msg` once the window and the socket buffer have room (or the socket is gone). */
  async send(msg: SubscriptionMessage): Promise<void> {
    while (
      !this.signal.aborted &&
      (this.#nextId - this.#ackedId > WINDOW || this.#ws.bufferedAmount > MAX_BUFFERED_BYTES)
    ) {
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 100);
      });
    }
    if (this.signal.aborted) return;
    const id = this.#nextId++;
    if (msg[0] === 'commit') this.#commits.push([id, msg[2].watermark]);
    if (msg[0] !== 'status' && msg[0] !== 'error') this.#owingSince ??= Date.now();
    this.#ws.send(encodeFrame(msg, id));
  }

  /** When the subscriber started owing an ack it has not sent yet, or undefined if it owes none. */
  get ackOverdueSince(): number | undefined {
    return this.#owingSince;
  }

  /** Ends the subscription from this side: `reason` (at most 123 bytes) goes to the subscriber. */
  drop(code: number, reason: string): void {
    this.#abort.abort();
    this.#ws.close(code, reason);
  }

  #onAck(id: number): void {
    if (id <= this.#ackedId) return;
    this.#ackedId = id;
    while (this.#commits.length && this.#commits[0]![0] <= id) {
      this.acked = this.#commits.shift()![1];
    }
    this.#owingSince = id >= this.#nextId - 1 ? undefined : Date.now();
    this.#wake?.();
  }
}
