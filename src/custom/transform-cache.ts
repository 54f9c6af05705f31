import {createHash} from 'node:crypto';
import type {AST} from '../protocol/ast.js';

/**
 * Recently transformed custom queries (fact sheet §7.3: results are reused for 5 s), so that a
 * burst of reconnects does not call the API server once per query each time.
 *
 * The API server answers per user, so an entry is only ever reused for the same user at the same
 * API server: its key covers everything the answer may depend on — the URL called, the token, the
 * forwarded cookies and the verified user id — besides the query id. Keys are sha256 hashes, so
 * credentials are not kept as map keys. The cache is bounded in entries and in age: entries are
 * kept in insertion order, which is also age order (an entry is never refreshed on a hit), so the
 * oldest are at the front, where expired ones and the overflow are dropped on every insert.
 */
export interface TransformCacheKey {
  /** The API-server URL the transform request goes to. */
  url: string;
  token: string | undefined;
  /** The Cookie header, only when it is forwarded to the API server. */
  cookie: string | undefined;
  /** The verified token's `sub`, when tokens are verified. */
  userID: string | undefined;
  queryID: string;
}

export const TRANSFORM_CACHE_MS = 5000;
export const TRANSFORM_CACHE_MAX_ENTRIES = 10_000;

export class TransformCache {
  readonly #entries = new Map<string, {ast: AST; at: number}>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(opts: {maxEntries?: number; maxAgeMs?: number; now?: () => number} = {}) {
    this.#maxEntries = opts.maxEntries ?? TRANSFORM_CACHE_MAX_ENTRIES;
    this.#maxAgeMs = opts.maxAgeMs ?? TRANSFORM_CACHE_MS;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: TransformCacheKey): AST | undefined {
    const hashed = hashKey(key);
    const hit = this.#entries.get(hashed);
    if (!hit) return undefined;
    if (this.#expired(hit.at)) {
      this.#entries.delete(hashed);
      return undefined;
    }
    return hit.ast;
  }

  set(key: TransformCacheKey, ast: AST): void {
    const hashed = hashKey(key);
    // Re-inserted, not updated in place: the entry moves to the back, where the newest are.
    this.#entries.delete(hashed);
    for (const [oldest, entry] of this.#entries) {
      if (!this.#expired(entry.at) && this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
    if (this.#maxEntries > 0) this.#entries.set(hashed, {ast, at: this.#now()});
  }

  #expired(at: number): boolean {
    return this.#now() - at >= this.#maxAgeMs;
  }
}

function hashKey(k: TransformCacheKey): string {
  // An array, so the canonical form does not depend on property order.
  const canonical = JSON.stringify([
    k.url,
    k.token ?? null,
    k.cookie ?? null,
    k.userID ?? null,
    k.queryID,
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}
