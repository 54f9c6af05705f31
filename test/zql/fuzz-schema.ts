import type {AST} from '../../src/protocol/ast.js';

/**
 * The data model of the differential fuzzer: a small schema, rows as the CLIENT sees them, and the
 * changes applied to them. Shared by the generators, the SQL oracle, the harness and the corpus.
 *
 * Values are client values: booleans are `true`/`false` (the replica stores 1/0), numbers are JS
 * numbers (int and real columns alike), text is a JS string, and a missing value is `null`.
 */
export type Value = string | number | boolean | null;
export type Row = Record<string, Value>;

export type ColumnType = 'int' | 'text' | 'bool' | 'real';

export interface FuzzColumn {
  name: string;
  type: ColumnType;
  nullable: boolean;
}

export interface FuzzTable {
  name: string;
  /** In replica column order. Primary-key columns are never nullable. */
  columns: FuzzColumn[];
  primaryKey: string[];
}

export interface FuzzSchema {
  tables: FuzzTable[];
}

/** Table name → rows (full rows, client values). */
export type TableData = Record<string, Row[]>;

/**
 * One upstream change. `update` may change the primary key: `oldKey` holds the key columns of the
 * row being replaced, `row` the full new row.
 */
export type FuzzChange =
  | {op: 'insert'; table: string; row: Row}
  | {op: 'update'; table: string; oldKey: Row; row: Row}
  | {op: 'delete'; table: string; key: Row};

/** A complete differential case: replayable from JSON (the regression corpus stores these). */
export interface FuzzCase {
  schema: FuzzSchema;
  data: TableData;
  ast: AST;
  /** Each inner array is one upstream transaction (1–3 changes). */
  transactions: FuzzChange[][];
}

export function tableOf(schema: FuzzSchema, name: string): FuzzTable {
  const table = schema.tables.find((t) => t.name === name);
  if (!table) throw new Error(`fuzz schema has no table "${name}"`);
  return table;
}

export function columnOf(table: FuzzTable, name: string): FuzzColumn {
  const column = table.columns.find((c) => c.name === name);
  if (!column) throw new Error(`table "${table.name}" has no column "${name}"`);
  return column;
}

/** The identity of a row in `synced`: `${table}/${JSON of the PK values in PK order}`. */
export function syncedRowKey(table: FuzzTable, row: Row): string {
  return `${table.name}/${JSON.stringify(table.primaryKey.map((c) => row[c]))}`;
}

export function keyColumnsOf(table: FuzzTable, row: Row): Row {
  const key: Row = {};
  for (const c of table.primaryKey) key[c] = row[c] ?? null;
  return key;
}

function sameKey(table: FuzzTable, a: Row, b: Row): boolean {
  return table.primaryKey.every((c) => a[c] === b[c]);
}

/**
 * Applies one change to an in-memory copy of the data (the harness's model of the replica, used to
 * resolve generated changes and to print "data before" in reports). Keeps table order stable:
 * updates replace in place, inserts append.
 */
export function applyChangeToData(schema: FuzzSchema, data: TableData, change: FuzzChange): void {
  const table = tableOf(schema, change.table);
  const rows = (data[change.table] ??= []);
  switch (change.op) {
    case 'insert': {
      const i = rows.findIndex((r) => sameKey(table, r, change.row));
      if (i >= 0) rows[i] = {...change.row};
      else rows.push({...change.row});
      return;
    }
    case 'update': {
      const i = rows.findIndex((r) => sameKey(table, r, change.oldKey));
      if (i < 0) throw new Error(`update of a missing ${change.table} row`);
      const clash = rows.findIndex((r, j) => j !== i && sameKey(table, r, change.row));
      if (clash >= 0) throw new Error(`update of ${change.table} collides with another key`);
      rows[i] = {...change.row};
      return;
    }
    case 'delete': {
      const i = rows.findIndex((r) => sameKey(table, r, change.key));
      if (i >= 0) rows.splice(i, 1);
      return;
    }
  }
}

export function cloneData(data: TableData): TableData {
  const copy: TableData = {};
  for (const [name, rows] of Object.entries(data)) copy[name] = rows.map((r) => ({...r}));
  return copy;
}

/** The data as it is before transaction `index` (0 = the initial data). */
export function dataBeforeTransaction(c: FuzzCase, index: number): TableData {
  const data = cloneData(c.data);
  for (const tx of c.transactions.slice(0, index)) {
    for (const change of tx) applyChangeToData(c.schema, data, change);
  }
  return data;
}
