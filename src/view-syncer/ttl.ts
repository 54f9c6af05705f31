/**
 * Query time-to-live (fact sheet §2.5): default 5 minutes, clamped to 10; a negative TTL means
 * "forever", which is also 10 minutes on the server.
 */
export const DEFAULT_TTL_MS = 5 * 60 * 1000;
export const MAX_TTL_MS = 10 * 60 * 1000;

export function clampTTL(ttl: number | undefined): number {
  if (ttl === undefined) return DEFAULT_TTL_MS;
  if (ttl < 0 || ttl > MAX_TTL_MS) return MAX_TTL_MS;
  return ttl;
}

/**
 * The TTL clock of a client group: milliseconds that only advance while a view-syncer for the group
 * runs (so queries do not expire while nobody is connected). `now()` is injectable for tests.
 */
export class TTLClock {
  #base: number;
  #since: number;
  readonly #now: () => number;

  constructor(initial: number, now: () => number = Date.now) {
    this.#base = initial;
    this.#now = now;
    this.#since = now();
  }

  value(): number {
    return this.#base + (this.#now() - this.#since);
  }
}
