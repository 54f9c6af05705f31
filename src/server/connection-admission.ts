/**
 * How many sockets a sync worker serves, in all and per client group. Admission is counted when a
 * socket is accepted — synchronously, before its group has seen it — so connections racing in at
 * the same instant cannot all pass a check that looks at the group's registered clients (which
 * lag by a CVR load). Each admitted socket is released exactly once, when it closes.
 */
export interface AdmissionLimits {
  /** ZCACHE_MAX_CONNECTIONS_PER_SYNC_WORKER */
  perWorker: number;
  /** ZCACHE_MAX_CLIENTS_PER_CLIENT_GROUP */
  perGroup: number;
}

export type Admission = {admitted: true; release: () => void} | {admitted: false; reason: string};

export class ConnectionAdmission {
  readonly #limits: AdmissionLimits;
  readonly #perGroup = new Map<string, number>();
  #total = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  get total(): number {
    return this.#total;
  }

  tryAdmit(clientGroupID: string): Admission {
    if (this.#total >= this.#limits.perWorker) {
      return {
        admitted: false,
        reason:
          `this zcache worker already serves ${this.#limits.perWorker} connections ` +
          '(ZCACHE_MAX_CONNECTIONS_PER_SYNC_WORKER); retry later',
      };
    }
    const inGroup = this.#perGroup.get(clientGroupID) ?? 0;
    if (inGroup >= this.#limits.perGroup) {
      return {
        admitted: false,
        reason:
          `client group ${clientGroupID} already has ${this.#limits.perGroup} connected clients ` +
          '(ZCACHE_MAX_CLIENTS_PER_CLIENT_GROUP)',
      };
    }
    this.#total++;
    this.#perGroup.set(clientGroupID, inGroup + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.#release(clientGroupID);
      },
    };
  }

  #release(clientGroupID: string): void {
    const left = (this.#perGroup.get(clientGroupID) ?? 0) - 1;
    if (left < 0 || this.#total <= 0)
      throw new Error(
        `connection admission: released more sockets than admitted (${clientGroupID})`,
      );
    this.#total--;
    if (left === 0) this.#perGroup.delete(clientGroupID);
    else this.#perGroup.set(clientGroupID, left);
  }
}
