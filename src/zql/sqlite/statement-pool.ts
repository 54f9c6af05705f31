import type Database from 'better-sqlite3';
import type {ReplicaDb} from '../../replica/replica-file.js';

/**
 * Prepared statements by SQL text. A statement that is being iterated cannot be run again until
 * its iterator closes, and nested fetches (self joins, Take refills) run the same SQL while an
 * outer iteration is open: so each SQL text has a small pool, grown on demand.
 */
export class StatementPool {
  readonly #db: ReplicaDb;
  readonly #pools = new Map<string, Database.Statement[]>();

  constructor(db: ReplicaDb) {
    this.#db = db;
  }

  get(sql: string, safeIntegers: boolean): Database.Statement {
    let pool = this.#pools.get(sql);
    if (!pool) {
      pool = [];
      this.#pools.set(sql, pool);
    }
    for (const stmt of pool) if (!stmt.busy) return stmt;
    const stmt = this.#db.prepare(sql);
    if (safeIntegers) stmt.safeIntegers(true);
    pool.push(stmt);
    return stmt;
  }
}
