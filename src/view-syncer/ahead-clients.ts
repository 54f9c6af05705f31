import {compareVersions, oneAfter, type CVRVersion} from './cvr-version.js';

/**
 * Clients whose cookie is ahead of the CVR: the CVR's latest updates were lost (its database
 * crashed before they reached disk, or was restored from an older backup). Instead of refusing
 * them (the 0.25 client then drops its local database and reloads, losing unsent mutations), the
 * next step resets their view: a poke from their own cookie that clears everything and sends the
 * whole view again, at a version above every such cookie. Rows, queries, mutation results and
 * last mutation ids all come from server state, so nothing the client needs is lost.
 */
export class AheadClients {
  readonly #ids = new Set<string>();
  #floor: CVRVersion | null = null;

  get size(): number {
    return this.#ids.size;
  }

  add(clientID: string, cookie: CVRVersion): void {
    this.#ids.add(clientID);
    if (compareVersions(cookie, this.#floor) > 0) this.#floor = cookie;
  }

  has(clientID: string): boolean {
    return this.#ids.has(clientID);
  }

  /** `v`, or the version just above the highest ahead cookie if `v` is not beyond it. */
  raise(v: CVRVersion): CVRVersion {
    return this.#floor && compareVersions(v, this.#floor) <= 0 ? oneAfter(this.#floor) : v;
  }

  /** After a step has poked (and flushed) them all. */
  clear(): void {
    this.#ids.clear();
    this.#floor = null;
  }
}
