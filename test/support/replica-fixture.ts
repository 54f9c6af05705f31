import Database from 'better-sqlite3';
import type {ColumnSpec, DataChange, Row as LiteRow} from '../../src/protocol/change-stream.js';
import {createMetaTables, writeStateVersion} from '../../src/replica/replica-file.js';
import {createPrimaryKeyIndex, createTable} from '../../src/replica/table-ddl.js';
import {ChangeApplier} from '../../src/replicator/change-applier.js';
import {versionToLexi} from '../../src/shared/lexi-version.js';

/**
 * A real in-memory SQLite replica with the project's layout, written only through the replicator's
 * ChangeApplier, for engine tests: `fixture.tx(changes)` commits one upstream transaction.
 */
export type ColumnTypes = Record<string, 'int4' | 'text' | 'bool' | 'float8' | 'json'>;

export interface ReplicaFixture {
  db: Database.Database;
  insert(table: string, row: LiteRow): DataChange;
  update(table: string, row: LiteRow, oldKey?: LiteRow): DataChange;
  delete(table: string, key: LiteRow): DataChange;
  tx(...changes: DataChange[]): string;
}

export function replicaFixture(
  tables: Record<string, {columns: ColumnTypes; primaryKey: string[]}>,
): ReplicaFixture {
  const db = new Database(':memory:');
  createMetaTables(db);
  let n = 1;
  writeStateVersion(db, versionToLexi(n));
  for (const [name, t] of Object.entries(tables)) {
    const columns: Record<string, ColumnSpec> = {};
    Object.entries(t.columns).forEach(([c, type], i) => {
      columns[c] = {pos: i + 1, dataType: type, typeOID: 0, notNull: t.primaryKey.includes(c)};
    });
    const spec = {schema: 'public', name, columns, primaryKey: t.primaryKey};
    createTable(db, spec, versionToLexi(n));
    createPrimaryKeyIndex(db, spec);
  }
  const applier = new ChangeApplier(db, versionToLexi(n));
  const rel = (table: string) => ({
    schema: 'public',
    name: table,
    keyColumns: tables[table]!.primaryKey,
  });
  return {
    db,
    insert: (table, row) => ({tag: 'insert', relation: rel(table), new: row}),
    update: (table, row, oldKey) => ({
      tag: 'update',
      relation: rel(table),
      key: oldKey ?? null,
      new: row,
    }),
    delete: (table, key) => ({tag: 'delete', relation: rel(table), key}),
    tx(...changes) {
      const v = versionToLexi(++n);
      applier.begin(v);
      for (const c of changes) applier.apply(c);
      applier.commit(v);
      return v;
    },
  };
}
