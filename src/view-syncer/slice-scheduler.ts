/**
 * Time slicing shared by every client group of a sync worker (they share one event loop).
 *
 * Steps run their sliced work (`run`) in slices of `yieldThresholdMs`, letting the event loop turn
 * between slices. A step that has computed for longer than `longAfterMs` in all (a big
 * hydration) becomes *long*: between its slices it also waits while any short step is in flight,
 * because short steps mostly wait on I/O (a CVR flush, a socket write) and each turn of the event
 * loop they need would otherwise cost them a whole slice of the long step. A long step never
 * waits more than `maxDeferMs` at a time, so it still progresses when short steps never stop.
 *
 * Not guaranteed: slices are not preempted — one slice of synchronous work (one SQLite call, one
 * push) runs to its end however long it takes.
 */
export interface SliceOptions {
  yieldThresholdMs: number;
  longAfterMs?: number;
  maxDeferMs?: number;
  now?: () => number;
}

export interface StepSlices {
  /**
   * Runs a generator to its end in slices; the step's computing time adds up across calls. When
   * `abandoned()` turns true between slices, the generator is closed (its `finally` blocks run)
   * and the promise rejects.
   */
  run<T>(gen: Generator<void, T>, abandoned?: () => boolean): Promise<T>;
  /** Ends the step (it no longer counts as in flight). Idempotent. */
  end(): void;
}

export class SliceScheduler {
  readonly #yieldMs: number;
  readonly #longAfterMs: number;
  readonly #maxDeferMs: number;
  readonly #now: () => number;
  #shortInFlight = 0;
  #waiters: (() => void)[] = [];

  constructor(opts: SliceOptions) {
    this.#yieldMs = opts.yieldThresholdMs;
    this.#longAfterMs = opts.longAfterMs ?? Math.max(50, 5 * opts.yieldThresholdMs);
    this.#maxDeferMs = opts.maxDeferMs ?? 50;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Short steps in flight now (for /statz and tests). */
  get shortInFlight(): number {
    return this.#shortInFlight;
  }

  beginStep(): StepSlices {
    this.#shortInFlight++;
    let computed = 0;
    let state: 'short' | 'long' | 'ended' = 'short';
    const leaveShort = () => {
      if (state !== 'short') return;
      this.#shortInFlight--;
      if (this.#shortInFlight < 0) throw new Error('slice scheduler: short steps in flight < 0');
      if (this.#shortInFlight === 0) this.#wakeLongSteps();
    };
    return {
      run: async <T>(gen: Generator<void, T>, abandoned?: () => boolean): Promise<T> => {
        let lap = this.#now();
        for (;;) {
          const r = gen.next();
          if (r.done) {
            computed += this.#now() - lap;
            return r.value;
          }
          const now = this.#now();
          if (now - lap <= this.#yieldMs) continue;
          computed += now - lap;
          if (state === 'short' && computed > this.#longAfterMs) {
            leaveShort();
            state = 'long';
          }
          await (state === 'long' ? this.#deferToShortSteps() : nextTurn());
          if (abandoned?.()) {
            gen.return(undefined as never);
            throw new Error('step abandoned: its view-syncer stopped');
          }
          lap = this.#now();
        }
      },
      end: () => {
        leaveShort();
        state = 'ended';
      },
    };
  }

  #deferToShortSteps(): Promise<void> {
    if (this.#shortInFlight === 0) return nextTurn();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, this.#maxDeferMs);
      this.#waiters.push(done);
    }).then(nextTurn);
  }

  #wakeLongSteps(): void {
    for (const w of [...this.#waiters]) w();
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
