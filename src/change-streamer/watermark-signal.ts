import {assertAdvances, type LexiVersion} from '../shared/lexi-version.js';

/** A watermark that only moves forward, and lets callers wait until it passes a point. */
export class WatermarkSignal {
  #current: LexiVersion;
  #waiters: {after: LexiVersion; resolve: () => void}[] = [];

  constructor(initial: LexiVersion) {
    this.#current = initial;
  }

  get current(): LexiVersion {
    return this.#current;
  }

  advance(to: LexiVersion): void {
    assertAdvances(this.#current, to, 'watermark signal');
    this.#current = to;
    const ready = this.#waiters.filter((w) => to > w.after);
    this.#waiters = this.#waiters.filter((w) => !(to > w.after));
    for (const w of ready) w.resolve();
  }

  /** Resolves once the watermark is beyond `after`, or when `signal` aborts. */
  waitBeyond(after: LexiVersion, signal: AbortSignal): Promise<void> {
    if (this.#current > after || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      };
      const waiter = {
        after,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.#waiters.push(waiter);
      signal.addEventListener('abort', onAbort, {once: true});
    });
  }
}
