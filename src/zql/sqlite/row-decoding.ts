import {parseLiteTypeString, zqlValueType, type ZqlValueType} from '../../replica/column-types.js';
import {ident} from '../../replica/names.js';
import type {ReplicaDb} from '../../replica/replica-file.js';
import type {Row, Value} from '../ivm/data.js';

/**
 * Replica values → the values clients see (fact sheet §2.11): booleans from 0/1, json and arrays
 * parsed, integers beyond ±(2^53−1) refused (they cannot reach a JS client intact). Columns of
 * types clients cannot receive are left out of rows.
 */
export interface TableColumns {
  /** Column → client value type; unsynced columns are absent. */
  types: Map<string, ZqlValueType>;
  /** Whether any column may hold integers beyond 2^53 (read with safe integers). */
  hasInt8: boolean;
}

export function readTableColumns(db: ReplicaDb, liteTable: string): TableColumns {
  const cols = db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(liteTable) as {
    name: string;
    type: string;
  }[];
  if (cols.length === 0) throw new Error(`zql: no table "${liteTable}" in the replica`);
  const types = new Map<string, ZqlValueType>();
  let hasInt8 = false;
  for (const c of cols) {
    if (c.name === '_0_version') continue;
    const t = parseLiteTypeString(c.type);
    const zt = zqlValueType(t);
    if (zt) types.set(c.name, zt);
    if (/^(int8|bigint|bigserial)$/i.test(t.upstreamType)) hasInt8 = true;
  }
  return {types, hasInt8};
}

/**
 * A replica value no client can hold: an integer beyond ±2^53, or json that does not parse. The
 * message names the column, never the value (it can concern a row the client may not read).
 */
export class UnrepresentableValueError extends Error {
  override readonly name = 'UnrepresentableValueError';
}

/** A replica row (from SQLite or from a row-change image) as a client row, `_0_version` kept. */
export function decodeRow(raw: Record<string, unknown>, cols: TableColumns, table: string): Row {
  const row: Row = {};
  for (const [name, type] of cols.types) row[name] = decodeValue(raw[name], type, table, name);
  if ('_0_version' in raw) row._0_version = raw._0_version as string;
  return row;
}

function decodeValue(v: unknown, type: ZqlValueType, table: string, col: string): Value {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'boolean':
      return v === 1 || v === 1n || v === true;
    case 'json':
      if (typeof v !== 'string') return v as Value;
      try {
        return JSON.parse(v) as Value;
      } catch {
        throw new UnrepresentableValueError(`zql: ${table}.${col} holds json that does not parse`);
      }
    case 'number':
      if (typeof v === 'bigint') {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new UnrepresentableValueError(
            `zql: ${table}.${col} holds an integer beyond the ±2^53 a client can represent`,
          );
        }
        return Number(v);
      }
      return v as number;
    default:
      return typeof v === 'bigint' ? Number(v) : (v as Value);
  }
}

/** A client value as SQLite binds it. */
export function encodeValue(v: Value): string | number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'object') return JSON.stringify(v);
  return v;
}

export function selectColumnsSql(cols: TableColumns): string {
  return [...cols.types.keys(), '_0_version'].map(ident).join(', ');
}
