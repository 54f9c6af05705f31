/**
 * Capped exponential back-off with jitter: the n-th wait is about `initialMs · 2^(n-1)`, at most
 * `maxMs`, scaled down by up to half at random so that many processes retrying against one server
 * spread out. `reset()` starts over (after a success). The randomness is a seam for tests.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Values in [0, 1); default Math.random. */
  random?: () => number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempts = 0;

  constructor(opts: BackoffOptions = {}) {
    this.#initialMs = opts.initialMs ?? 1_000;
    this.#maxMs = opts.maxMs ?? 10_000;
    this.#random = opts.random ?? Math.random;
    if (!(this.#initialMs > 0 && this.#maxMs >= this.#initialMs))
      throw new Error(
        `back-off: need 0 < initialMs <= maxMs, got ${this.#initialMs}, ${this.#maxMs}`,
      );
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Records a failure and returns how long to wait before the next attempt (ms). */
  next(): number {
    this.#attempts++;
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempts - 1, 30));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.#random());
  }

  reset(): void {
    this.#attempts = 0;
  }
}

/** Resolves after `ms`, or at once (without throwing) when `signal` aborts. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, {once: true});
  });
}

/** "1.3 s" */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Runs `attempt` until it succeeds, waiting with `backoff` after each failure `isTransient`
 * accepts (and logging it with `describe`); any other failure is thrown at once. Gives up on a
 * transient failure only when `signal` aborts (throwing its reason).
 */
export async function retryWhileTransient<T>(
  attempt: () => Promise<T>,
  opts: {
    isTransient: (e: unknown) => boolean;
    describe: (e: unknown, waitMs: number, attempts: number) => string;
    warn: (message: string) => void;
    backoff?: Backoff;
    signal?: AbortSignal | undefined;
  },
): Promise<T> {
  const backoff = opts.backoff ?? new Backoff();
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (e) {
      if (!opts.isTransient(e)) throw e;
      const wait = backoff.next();
      opts.warn(opts.describe(e, wait, backoff.attempts));
      await sleepUnlessAborted(wait, opts.signal);
    }
  }
}
