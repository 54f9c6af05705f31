/**
 * Sends a value that only matters in its latest form (e.g. the replica's version) over a channel
 * that may be slower than the producer: at most one send is in flight, and values offered meanwhile
 * collapse into the newest, which goes out when the send completes. A failed send (a closed IPC
 * channel) is dropped silently: the channel's owner notices the closed channel on its own.
 */
export type SendWithCallback<T> = (value: T, done: (error: Error | null) => void) => void;

export class LatestValueSender<T> {
  readonly #send: SendWithCallback<T>;
  #inFlight = false;
  #pending: {value: T} | undefined;
  #last: {value: T} | undefined;

  constructor(send: SendWithCallback<T>) {
    this.#send = send;
  }

  /** The last value offered, if any (sent or about to be). */
  get latest(): T | undefined {
    return this.#last?.value;
  }

  /** Offers `value`; it replaces any value still waiting to be sent. */
  offer(value: T): void {
    this.#last = {value};
    if (this.#inFlight) {
      this.#pending = {value};
      return;
    }
    this.#sendNow(value);
  }

  #sendNow(value: T): void {
    this.#inFlight = true;
    try {
      this.#send(value, () => this.#onSent());
    } catch {
      // A channel that is already closed throws synchronously from some senders.
      this.#inFlight = false;
      this.#pending = undefined;
    }
  }

  #onSent(): void {
    this.#inFlight = false;
    const next = this.#pending;
    this.#pending = undefined;
    if (next) this.#sendNow(next.value);
  }
}
