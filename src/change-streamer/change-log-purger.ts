import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeLog} from './change-log.js';

/**
 * Keeps a replication-manager's change log bounded without cutting off anyone who still needs it.
 * Every `intervalMs` it purges the transactions before the lowest of
 * - the newest finished backup's watermark (a view-syncer restoring it needs everything after),
 * - what the manager's own replica holds durably (a power loss may take the rest),
 * - the head of the log one retention period ago (ZCACHE_CHANGE_LOG_RETENTION_MS: a view-syncer
 *   away for less than that resumes from its watermark rather than restoring a backup), and
 * - the oldest watermark a connected view-syncer still needs: what a subscriber acknowledged, or
 *   the backup a snapshot reservation named (the view-syncer restoring it needs everything after);
 * and purges nothing before the first backup has finished. A view-syncer that goes silent holds it
 * back only until the change-streamer drops it (ZCACHE_CHANGE_STREAMER_ACK_TIMEOUT_MS).
 */
export interface PurgeBounds {
  latestBackup(): LexiVersion | undefined;
  /** What the manager's own replica holds durably (Replicator.durableVersion). */
  replicaDurable(): LexiVersion | undefined;
  /**
   * Transactions younger than the retention period (RetentionWindow.bound), kept for view-syncers
   * that are away for a while (restarting, partitioned) so they can resume instead of restoring.
   */
  retained(): LexiVersion | undefined;
  /** See ChangeStreamServer.oldestNeeded: null = nothing connected, undefined = hold everything. */
  oldestNeeded(): LexiVersion | null | undefined;
}

export class ChangeLogPurger {
  readonly #log: ChangeLog;
  readonly #bounds: PurgeBounds;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<number> | undefined;

  constructor(changeLog: ChangeLog, bounds: PurgeBounds, logger: Logger, intervalMs = 30_000) {
    this.#log = changeLog;
    this.#bounds = bounds;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.purgeNow().catch(() => {}), intervalMs);
    this.#timer.unref();
  }

  /** The watermark before which the log may be purged now, or undefined for "nothing". */
  limit(): LexiVersion | undefined {
    const backup = this.#bounds.latestBackup();
    const needed = this.#bounds.oldestNeeded();
    const durable = this.#bounds.replicaDurable();
    const retained = this.#bounds.retained();
    if (backup === undefined || needed === undefined) return undefined;
    if (durable === undefined || retained === undefined) return undefined;
    let limit = durable < backup ? durable : backup;
    if (retained < limit) limit = retained;
    if (needed !== null && needed < limit) limit = needed;
    return limit;
  }

  /** Purges up to `limit()` now; concurrent calls share one purge. */
  purgeNow(): Promise<number> {
    if (this.#running) return this.#running;
    const limit = this.limit();
    if (limit === undefined) return Promise.resolve(0);
    const run = this.#log.purgeBefore(limit).then(
      (n) => {
        if (n) this.#logger.debug(`change log: purged ${n} entries before ${limit}`);
        return n;
      },
      (e) => {
        this.#logger.warn('change log purge failed (will retry)', e);
        throw e;
      },
    );
    this.#running = run.finally(() => (this.#running = undefined));
    return this.#running;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
