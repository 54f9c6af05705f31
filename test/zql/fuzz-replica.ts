import Database from 'better-sqlite3';
import type {
  ColumnSpec,
  DataChange,
  Relation,
  Row as LiteRow,
  TableSpec,
} from '../../src/protocol/change-stream.js';
import {createMetaTables, writeStateVersion} from '../../src/replica/replica-file.js';
import {createPrimaryKeyIndex, createTable} from '../../src/replica/table-ddl.js';
import {ChangeApplier} from '../../src/replicator/change-applier.js';
import {versionToLexi} from '../../src/shared/lexi-version.js';
import type {ColumnType, FuzzChange, FuzzSchema, FuzzTable, Row, TableData} from './fuzz-schema.js';

/**
 * An in-memory replica with the project's real layout (meta tables, `_0_version`, key indexes,
 * the per-row change list), written only through the real ChangeApplier: the initial data is one
 * transaction, every generated transaction another, each at the next version.
 */
const DATA_TYPES: Record<ColumnType, string> = {
  int: 'int4',
  text: 'text',
  bool: 'bool',
  real: 'float8',
};

export const INITIAL_STATE_VERSION = 1;

export function tableSpecOf(table: FuzzTable): TableSpec {
  const columns: Record<string, ColumnSpec> = {};
  table.columns.forEach((c, i) => {
    columns[c.name] = {pos: i + 1, dataType: DATA_TYPES[c.type], typeOID: 0, notNull: !c.nullable};
  });
  return {schema: 'public', name: table.name, columns, primaryKey: table.primaryKey};
}

function toLiteRow(row: Row): LiteRow {
  const lite: LiteRow = {};
  for (const [k, v] of Object.entries(row)) lite[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  return lite;
}

export class FuzzReplica {
  readonly db: Database.Database;
  readonly #schema: FuzzSchema;
  readonly #applier: ChangeApplier;
  #version = INITIAL_STATE_VERSION;

  constructor(schema: FuzzSchema) {
    this.#schema = schema;
    this.db = new Database(':memory:');
    createMetaTables(this.db);
    const initial = versionToLexi(INITIAL_STATE_VERSION);
    for (const table of schema.tables) {
      const spec = tableSpecOf(table);
      createTable(this.db, spec, initial);
      createPrimaryKeyIndex(this.db, spec);
    }
    writeStateVersion(this.db, initial);
    this.#applier = new ChangeApplier(this.db, initial);
  }

  /** The initial data as one transaction of inserts. */
  load(data: TableData): void {
    const inserts: FuzzChange[] = [];
    for (const table of this.#schema.tables) {
      for (const row of data[table.name] ?? [])
        inserts.push({op: 'insert', table: table.name, row});
    }
    this.applyTransaction(inserts);
  }

  applyTransaction(changes: FuzzChange[]): void {
    const watermark = versionToLexi(++this.#version);
    this.#applier.begin(watermark);
    for (const change of changes) this.#applier.apply(this.#toDataChange(change));
    this.#applier.commit(watermark);
  }

  close(): void {
    this.db.close();
  }

  #relation(name: string): Relation {
    const table = this.#schema.tables.find((t) => t.name === name);
    if (!table) throw new Error(`fuzz replica: no table ${name}`);
    return {schema: 'public', name, keyColumns: table.primaryKey};
  }

  #toDataChange(change: FuzzChange): DataChange {
    const relation = this.#relation(change.table);
    switch (change.op) {
      case 'insert':
        return {tag: 'insert', relation, new: toLiteRow(change.row)};
      case 'update': {
        const keyChanged = relation.keyColumns.some((c) => change.oldKey[c] !== change.row[c]);
        const key = keyChanged ? toLiteRow(change.oldKey) : null;
        return {tag: 'update', relation, key, new: toLiteRow(change.row)};
      }
      case 'delete':
        return {tag: 'delete', relation, key: toLiteRow(change.key)};
    }
  }
}
