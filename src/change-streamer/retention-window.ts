import type {LexiVersion} from '../shared/lexi-version.js';

/**
 * Which change-log transactions are younger than a retention period, from samples of the log's
 * head: `bound(now)` is the newest head seen at least `retentionMs` before `now`, so every
 * transaction stored since then lies after it. Undefined until the window has existed that long
 * (a restarted manager purges nothing of its first period). Samples are kept in memory only.
 */
export class RetentionWindow {
  readonly #retentionMs: number;
  #samples: {at: number; head: LexiVersion}[] = [];

  constructor(retentionMs: number) {
    this.#retentionMs = retentionMs;
  }

  note(head: LexiVersion, now: number): void {
    const last = this.#samples.at(-1);
    if (last && head < last.head)
      throw new Error(`retention window: the log's head went back from ${last.head} to ${head}`);
    this.#samples.push({at: now, head});
  }

  bound(now: number): LexiVersion | undefined {
    const cutoff = now - this.#retentionMs;
    let i = -1;
    while (i + 1 < this.#samples.length && this.#samples[i + 1]!.at <= cutoff) i++;
    if (i < 0) return undefined;
    // Older samples can never be the bound again.
    this.#samples = this.#samples.slice(i);
    return this.#samples[0]!.head;
  }
}
