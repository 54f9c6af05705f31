import type {DataChange, Relation, Row, TableId} from '../protocol/change-stream.js';
import {ident, liteTableName, ROW_VERSION_COLUMN} from '../replica/names.js';
import {writeStateVersion, type ReplicaDb} from '../replica/replica-file.js';
import {RowChangeWriter} from '../replica/row-changes.js';
import {assertAdvances, type LexiVersion} from '../shared/lexi-version.js';
import {applySchemaChange, isSchemaChange} from './schema-changes.js';
import {TableStatements} from './table-statements.js';

/**
 * Applies committed upstream transactions to the replica: one SQLite transaction per upstream
 * transaction, every written row stamped with the commit watermark (`_0_version`), every touched row
 * recorded in the per-row change list with its image before the change, and the replica's
 * stateVersion set to the watermark at commit.
 *
 * Contract: `begin(w)` requires w > the replica's stateVersion; `commit(w)` requires the same w.
 * A failure inside a transaction rolls the whole transaction back (the replica never holds part of one).
 */
export class ChangeApplier {
  readonly #db: ReplicaDb;
  readonly #rowChanges: RowChangeWriter;
  readonly #tables = new Map<string, TableStatements>();
  #stateVersion: LexiVersion;
  #current: LexiVersion | null = null;

  constructor(db: ReplicaDb, stateVersion: LexiVersion) {
    this.#db = db;
    this.#rowChanges = new RowChangeWriter(db);
    this.#stateVersion = stateVersion;
  }

  get stateVersion(): LexiVersion {
    return this.#stateVersion;
  }

  begin(watermark: LexiVersion): void {
    if (this.#current !== null)
      throw new Error(`replicator: begin ${watermark} inside transaction ${this.#current}`);
    assertAdvances(this.#stateVersion, watermark, 'replicator: begin');
    this.#db.exec('BEGIN IMMEDIATE');
    this.#current = watermark;
  }

  apply(change: DataChange): void {
    const v = this.#current;
    if (v === null) throw new Error(`replicator: ${change.tag} outside a transaction`);
    try {
      this.#applyOne(change, v);
    } catch (e) {
      this.abort();
      throw new Error(
        `replica: apply ${change.tag.toUpperCase()} at ${v}: ${(e as Error).message}`,
        {cause: e},
      );
    }
  }

  commit(watermark: LexiVersion): void {
    if (this.#current !== watermark) {
      throw new Error(`replicator: commit ${watermark} does not match begin ${this.#current}`);
    }
    writeStateVersion(this.#db, watermark);
    this.#db.exec('COMMIT');
    this.#stateVersion = watermark;
    this.#current = null;
  }

  abort(): void {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#current = null;
    this.#tables.clear();
  }

  #applyOne(change: DataChange, v: LexiVersion): void {
    switch (change.tag) {
      case 'insert':
        return this.#insert(change.relation, change.new, v);
      case 'update':
        return this.#update(change.relation, change.key, change.new, v);
      case 'delete':
        return this.#delete(change.relation, change.key, v);
      case 'truncate':
        return this.#truncate(change.relations, v);
    }
    if (isSchemaChange(change)) {
      this.#tables.clear();
      applySchemaChange(this.#db, change, v, this.#rowChanges);
    }
  }

  #table(t: TableId): TableStatements {
    const name = liteTableName(t);
    let s = this.#tables.get(name);
    if (!s) {
      s = new TableStatements(this.#db, name);
      this.#tables.set(name, s);
    }
    return s;
  }

  #insert(rel: Relation, row: Row, v: LexiVersion): void {
    const t = this.#table(rel);
    if (t.key.length === 0) return t.upsert(row, v); // keyless: replicated, never synced
    const key = t.keyOf(row, 'INSERT');
    const old = t.get(key);
    t.upsert(row, v);
    this.#rowChanges.rowChanged(v, t.liteName, key, 's', old);
  }

  #update(rel: Relation, oldKeyRow: Row | null, row: Row, v: LexiVersion): void {
    const t = this.#table(rel);
    const newKey = t.keyOf(row, 'UPDATE');
    const oldKey = oldKeyRow ? t.keyOf(oldKeyRow, 'UPDATE (old key)') : newKey;
    const old = t.get(oldKey);
    if (sameKey(oldKey, newKey)) {
      if (t.update(oldKey, row, v) === 0) t.upsert(row, v);
      this.#rowChanges.rowChanged(v, t.liteName, newKey, 's', old);
      return;
    }
    // The key changed: the row moves. Columns absent from `row` (unchanged TOAST) come from the old row.
    if (old) {
      t.delete(oldKey);
      this.#rowChanges.rowChanged(v, t.liteName, oldKey, 'd', old);
    }
    const displaced = t.get(newKey);
    const {[ROW_VERSION_COLUMN]: _drop, ...oldValues} = old ?? {};
    t.upsert({...oldValues, ...row}, v);
    this.#rowChanges.rowChanged(v, t.liteName, newKey, 's', displaced);
  }

  #delete(rel: Relation, keyRow: Row, v: LexiVersion): void {
    const t = this.#table(rel);
    const key = t.keyOf(keyRow, 'DELETE');
    const old = t.get(key);
    if (!old) return; // already absent: nothing changed
    t.delete(key);
    this.#rowChanges.rowChanged(v, t.liteName, key, 'd', old);
  }

  #truncate(relations: Relation[], v: LexiVersion): void {
    for (const rel of relations) {
      const name = liteTableName(rel);
      this.#db.prepare(`DELETE FROM ${ident(name)}`).run();
      this.#rowChanges.tableChanged(v, name, 't');
    }
  }
}

function sameKey(a: Row, b: Row): boolean {
  for (const k of Object.keys(a)) if (a[k] !== b[k]) return false;
  return true;
}
