import type Database from 'better-sqlite3';
import type {Row} from '../protocol/change-stream.js';
import {ident, ROW_VERSION_COLUMN} from '../replica/names.js';
import type {ReplicaDb} from '../replica/replica-file.js';
import {readPrimaryKey} from '../replica/table-ddl.js';

/**
 * Prepared statements for one replica table, keyed by its row key. Rebuilt after any schema change
 * to the table (the cache is cleared by the applier).
 */
export class TableStatements {
  readonly liteName: string;
  readonly key: string[];
  readonly #db: ReplicaDb;
  readonly #select: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #writes = new Map<string, Database.Statement>();

  constructor(db: ReplicaDb, liteName: string) {
    const key = readPrimaryKey(db, liteName);
    if (!key) throw new Error(`replica: no table "${liteName}"`);
    this.#db = db;
    this.liteName = liteName;
    this.key = key;
    const where = key.length ? key.map((k) => `${ident(k)} IS ?`).join(' AND ') : 'false';
    this.#select = db.prepare(`SELECT * FROM ${ident(liteName)} WHERE ${where}`).safeIntegers(true);
    this.#delete = db.prepare(`DELETE FROM ${ident(liteName)} WHERE ${where}`);
  }

  keyOf(row: Row, what: string): Row {
    if (this.key.length === 0) {
      throw new Error(
        `replica: ${what} on "${this.liteName}", which has no row key (only inserts replicate)`,
      );
    }
    const k: Row = {};
    for (const c of this.key) {
      if (!(c in row)) {
        throw new Error(
          `replica: ${what} on "${this.liteName}" lacks key column "${c}" (row ${JSON.stringify(row, big)})`,
        );
      }
      k[c] = row[c]!;
    }
    return k;
  }

  /** The current row with this key, or null. Integers come back exact (bigint beyond 2^53). */
  get(key: Row): Row | null {
    const r = this.#select.get(this.key.map((c) => key[c])) as Record<string, unknown> | undefined;
    return r ? normalizeIntegers(r) : null;
  }

  delete(key: Row): number {
    return this.#delete.run(this.key.map((c) => key[c])).changes;
  }

  /** INSERT OR REPLACE of the given columns, stamped with `version`. */
  upsert(row: Row, version: string): void {
    const cols = Object.keys(row);
    const stmt = this.#writeStmt('upsert', cols, () => {
      const all = [...cols, ROW_VERSION_COLUMN];
      return `INSERT OR REPLACE INTO ${ident(this.liteName)} (${all.map(ident).join(',')}) VALUES (${all.map(() => '?').join(',')})`;
    });
    stmt.run([...cols.map((c) => row[c]), version]);
  }

  /** UPDATE of the given columns of the row with `key`; returns the number of rows changed. */
  update(key: Row, row: Row, version: string): number {
    const cols = Object.keys(row);
    const stmt = this.#writeStmt('update', cols, () => {
      const set = [...cols, ROW_VERSION_COLUMN].map((c) => `${ident(c)} = ?`).join(', ');
      return `UPDATE ${ident(this.liteName)} SET ${set} WHERE ${this.key.map((k) => `${ident(k)} IS ?`).join(' AND ')}`;
    });
    return stmt.run([...cols.map((c) => row[c]), version, ...this.key.map((c) => key[c])]).changes;
  }

  #writeStmt(kind: string, cols: string[], sql: () => string): Database.Statement {
    const id = `${kind}:${cols.join('\u0000')}`;
    let stmt = this.#writes.get(id);
    if (!stmt) {
      stmt = this.#db.prepare(sql());
      this.#writes.set(id, stmt);
    }
    return stmt;
  }
}

function normalizeIntegers(r: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) {
    out[k] =
      typeof v === 'bigint' &&
      v <= BigInt(Number.MAX_SAFE_INTEGER) &&
      v >= BigInt(Number.MIN_SAFE_INTEGER)
        ? Number(v)
        : (v as Row[string]);
  }
  return out;
}

function big(_k: string, v: unknown) {
  return typeof v === 'bigint' ? v.toString() : v;
}
