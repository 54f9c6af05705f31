import type {ZqlValueType} from '../../replica/column-types.js';
import {ident} from '../../replica/names.js';
import {readStateVersion, type ReplicaDb} from '../../replica/replica-file.js';
import {readRowChanges, rowChangesPurgedBefore} from '../../replica/row-changes.js';
import type {WindowedChanges} from '../../replica/row-change-window.js';
import {readPrimaryKey} from '../../replica/table-ddl.js';
import type {LexiVersion} from '../../shared/lexi-version.js';
import type {SourceProvider} from '../builder/pipeline-builder.js';
import type {ColumnTypes} from '../builder/query-checks.js';
import type {Row} from '../ivm/data.js';
import type {RowChangeForPush} from './row-overlay.js';
import {StatementPool} from './statement-pool.js';
import {TableSource} from './table-source.js';

/**
 * The tables of one replica connection as IVM sources, and the two ways pipelines over them read:
 * `read(fn)` runs a hydration in one short read transaction at the head; `advance(from)` opens one
 * at the head, turns the replica's per-row change list after `from` into one change per row (the
 * row before = the earliest entry's old image, the row after = the head), registers them all as
 * pending, and yields after pushing each, so the caller can time-slice. No read transaction
 * outlives the call.
 */
export type Advancement =
  | {kind: 'changes'; from: LexiVersion; to: LexiVersion; changes: number}
  | {kind: 'reset'; reason: string; to: LexiVersion};

export class ReplicaSources implements SourceProvider, ColumnTypes {
  readonly #db: ReplicaDb;
  readonly #statements: StatementPool;
  readonly #sources = new Map<string, TableSource>();

  constructor(db: ReplicaDb) {
    this.#db = db;
    this.#statements = new StatementPool(db);
  }

  getSource(table: string): TableSource {
    let s = this.#sources.get(table);
    if (!s) {
      const pk = readPrimaryKey(this.#db, table);
      if (!pk) throw new Error(`zql: table "${table}" is not in the replica`);
      if (pk.length === 0)
        throw new Error(
          `zql: table "${table}" has no primary key or unique index; it cannot be queried`,
        );
      s = new TableSource(this.#db, this.#statements, table, pk);
      this.#sources.set(table, s);
    }
    return s;
  }

  /** Column → value type of a table (for checking queries before they are built). */
  columnsOf(table: string): ReadonlyMap<string, ZqlValueType> {
    return this.getSource(table).columns;
  }

  /** The head version; read outside any transaction. */
  headVersion(): LexiVersion {
    return readStateVersion(this.#db)!;
  }

  /** Rows read from the replica so far by all sources (the cost measure for the circuit breaker). */
  rowsRead(): number {
    let n = 0;
    for (const s of this.#sources.values()) n += s.rowsRead;
    return n;
  }

  /**
   * Runs a time-sliced read (e.g. `rows.hydrate()`) in one read transaction, yielding whenever it
   * yields; the transaction stays open across those pauses (one snapshot) and closes when the
   * generator finishes or is abandoned. Returns the version read at.
   */
  *readSliced(work: Iterator<void>): Generator<void, LexiVersion> {
    const own = this.#begin();
    try {
      const version = readStateVersion(this.#db)!;
      for (let r = work.next(); !r.done; r = work.next()) yield;
      return version;
    } finally {
      if (own) this.#db.exec('COMMIT');
    }
  }

  /**
   * Runs several reads and advancements in one read transaction (one snapshot), e.g. advancing
   * existing pipelines and hydrating new ones at the same version. Nested reads join it.
   */
  *transaction<T>(work: () => Generator<void, T>): Generator<void, T> {
    const own = this.#begin();
    try {
      return yield* work();
    } finally {
      if (own) this.#db.exec('COMMIT');
    }
  }

  /** Opens a read transaction unless one is open; returns whether it opened one. */
  #begin(): boolean {
    if (this.#db.inTransaction) return false;
    this.#db.exec('BEGIN');
    return true;
  }

  /** Runs `fn` inside one read transaction; returns the version it read at. */
  read<T>(fn: (version: LexiVersion) => T): T {
    const own = this.#begin();
    try {
      return fn(readStateVersion(this.#db)!);
    } finally {
      if (own) this.#db.exec('COMMIT');
    }
  }

  /** Pushes every row change after `from` through the sources; yields after each push. */
  *advance(from: LexiVersion): Generator<void, Advancement> {
    const own = this.#begin();
    try {
      const to = readStateVersion(this.#db)!;
      if (to === from) return {kind: 'changes', from, to, changes: 0};
      if (from < rowChangesPurgedBefore(this.#db)) {
        return {kind: 'reset', reason: `the change list no longer reaches back to ${from}`, to};
      }
      const entries = readRowChanges(this.#db, from, to);
      const changes: {source: TableSource; change: RowChangeForPush}[] = [];
      const seen = new Set<string>();
      for (const e of entries) {
        const source = this.#sources.get(e.table);
        if (!source) continue;
        if (e.op === 't' || e.op === 'r')
          return {
            kind: 'reset',
            reason: `${e.table} was ${e.op === 't' ? 'truncated' : 'altered'}`,
            to,
          };
        const id = `${e.table}\u0000${JSON.stringify(e.rowKey)}`;
        if (seen.has(id)) continue; // the earliest entry holds the row as it was at `from`
        seen.add(id);
        const old = e.oldRow ? source.decode(e.oldRow) : null;
        const current = this.#rowAt(source, e.rowKey!);
        if (!old && !current) continue;
        changes.push({source, change: {old, new: current}});
      }
      for (const {source, change} of changes) source.overlay.addPending(change);
      for (const {source, change} of changes) {
        source.push(change);
        yield;
      }
      return {kind: 'changes', from, to, changes: changes.length};
    } finally {
      for (const s of this.#sources.values()) s.overlay.clear();
      if (own) this.#db.exec('COMMIT');
    }
  }

  /**
   * Whether the changes could alter any pipeline over these sources: a table-wide change to a
   * table they read, or a row that in some state passes a source's pushed-down conditions. False
   * is a promise (advancing would push nothing through); true is only a possibility.
   */
  affectedBy(changes: WindowedChanges): boolean {
    for (const e of changes.entries) {
      const source = this.#sources.get(e.table);
      if (!source) continue;
      if (!e.rowKey) return true;
      if (e.oldRow && source.mayMatch(e.oldRow)) return true;
      const now = changes.headImage(e);
      if (now && source.mayMatch(now)) return true;
    }
    return false;
  }

  /** The current row with this key (client values), read in the caller's transaction. */
  getRow(table: string, key: Readonly<Record<string, unknown>>): Row | null {
    return this.#rowAt(this.getSource(table), key);
  }

  #rowAt(source: TableSource, key: Readonly<Record<string, unknown>>): Row | null {
    const cols = Object.keys(key);
    const where = cols.map((c) => `${ident(c)} = ?`).join(' AND ');
    const sql = `SELECT * FROM ${ident(source.table)} WHERE ${where}`;
    const raw = this.#statements.get(sql, true).get(cols.map((c) => key[c])) as
      Record<string, unknown> | undefined;
    return raw ? source.decode(raw) : null;
  }
}
