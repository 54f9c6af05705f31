/**
 * The CRUD mutation limit of one client group (ZERO_PER_USER_MUTATION_LIMIT_MAX mutations per
 * ZERO_PER_USER_MUTATION_LIMIT_WINDOW_MS, a sliding window): `tryTake()` counts a mutation and
 * says whether it is within the limit. A refused mutation is not counted. Memory is bounded by
 * `max` timestamps.
 */
export class MutationRateLimit {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Times of the counted mutations still inside the window, oldest first. */
  readonly #taken: number[] = [];

  constructor(max: number, windowMs: number, now: () => number = Date.now) {
    if (!(max >= 0) || !(windowMs > 0)) {
      throw new Error(`mutation rate limit: max ${max} per ${windowMs} ms is not a valid limit`);
    }
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  tryTake(): boolean {
    const now = this.#now();
    while (this.#taken.length && this.#taken[0]! <= now - this.#windowMs) this.#taken.shift();
    if (this.#taken.length >= this.#max) return false;
    this.#taken.push(now);
    return true;
  }
}
