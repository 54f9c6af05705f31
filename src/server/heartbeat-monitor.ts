/**
 * The `/keepalive` heartbeat (fact sheet §9.1): a load balancer's first `/keepalive` arms the
 * monitor; from then on, `timeoutMs` without another calls `onLost` — once — so that a node its
 * load balancer stopped checking (taken out of rotation) drains and exits instead of lingering.
 * Until the first beat nothing is watched: a node no load balancer checks runs forever.
 */
export class HeartbeatMonitor {
  readonly #timeoutMs: number;
  readonly #onLost: (silentMs: number) => void;
  #timer: NodeJS.Timeout | undefined;
  #fired = false;

  constructor(timeoutMs: number, onLost: (silentMs: number) => void) {
    this.#timeoutMs = timeoutMs;
    this.#onLost = onLost;
  }

  beat(): void {
    if (this.#fired) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#fired = true;
      this.#onLost(this.#timeoutMs);
    }, this.#timeoutMs);
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
