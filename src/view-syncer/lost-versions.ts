import {versionFromLexi, versionToLexi} from '../shared/lexi-version.js';
import type {CVRInstance} from './cvr-types.js';
import {compareVersions, oneAfter, type CVRVersion} from './cvr-version.js';

/**
 * Which cookies a CVR can vouch for, when its flushes commit asynchronously (ZCACHE_CVR_ASYNC_COMMIT)
 * and a crash of its database may take the latest ones — after clients were handed their versions.
 *
 * - The **ceiling**: no client is ever handed a version above it, because it is raised (in a
 *   durable flush, before the poke's end is sent) whenever a new version would pass it. It is
 *   raised with a margin of WAL, so durable flushes are rare.
 * - On **load**, versions after the loaded one up to the ceiling may have been handed out and
 *   lost: that range is recorded (durably, with the next durable flush) and every cookie in it —
 *   now or in any later load — gets its view reset rather than a catch-up the CVR cannot back.
 * - Versions this CVR produces from then on are **above** the ceiling, so none equals a lost one.
 *
 * Ranges from clean loads (no loss) hold no cookie any client has, so they cost nothing but
 * space; at most MAX_RANGES are kept, the oldest merged (a merged range may reset a client that
 * could have been caught up: always correct, only costlier).
 */
const MAX_RANGES = 8;
/** WAL between ceiling raises (in LSN units), so a group needs a durable flush rarely. */
const CEILING_MARGIN = 16n * 1024n * 1024n;

type Range = readonly [after: CVRVersion, through: CVRVersion];

export class LostVersions {
  #ceiling: CVRVersion | null;
  #ranges: Range[];
  /** New versions must be above this (the ceiling at load). */
  readonly #floor: CVRVersion | null;

  /** From a loaded CVR instance: adds the range its lost tail may occupy. */
  constructor(loaded: Pick<CVRInstance, 'version' | 'handedOutCeiling' | 'lostRanges'>) {
    this.#ceiling = loaded.handedOutCeiling;
    this.#ranges = [...loaded.lostRanges];
    this.#floor = null;
    const ceiling = loaded.handedOutCeiling;
    if (ceiling && compareVersions(loaded.version, ceiling) < 0) {
      this.#ranges.push([loaded.version, ceiling]);
      while (this.#ranges.length > MAX_RANGES) {
        const [a, b] = this.#ranges.splice(0, 2) as [Range, Range];
        this.#ranges.unshift([a[0], b[1]]);
      }
      this.#floor = ceiling;
    }
  }

  get ceiling(): CVRVersion | null {
    return this.#ceiling;
  }

  get ranges(): readonly Range[] {
    return this.#ranges;
  }

  /** Whether a client holding `cookie` may hold state the CVR lost: it must be reset. */
  mayBeLost(cookie: CVRVersion): boolean {
    return this.#ranges.some(
      ([after, through]) =>
        compareVersions(cookie, after) > 0 && compareVersions(cookie, through) <= 0,
    );
  }

  /** `v`, or the first version above the floor when `v` is not above it. */
  raise(v: CVRVersion): CVRVersion {
    return this.#floor && compareVersions(v, this.#floor) <= 0 ? oneAfter(this.#floor) : v;
  }

  /**
   * Before handing out `version`: the new ceiling to record durably, or null when the current
   * one covers it.
   */
  ceilingFor(version: CVRVersion): CVRVersion | null {
    if (this.#ceiling && compareVersions(version, this.#ceiling) <= 0) return null;
    this.#ceiling = {
      stateVersion: versionToLexi(versionFromLexi(version.stateVersion) + CEILING_MARGIN),
    };
    return this.#ceiling;
  }
}
