import {parseLiteTypeString, zqlValueType, type LiteColumnType} from '../replica/column-types.js';
import {ROW_VERSION_COLUMN} from '../replica/names.js';
import {cachedStatement, type ReplicaDb} from '../replica/replica-file.js';
import {pgIdent} from '../replication/shard-names.js';
import {MutationInputError} from './mutation-errors.js';

/**
 * The upstream table a CRUD op names, as the replica describes it: its Postgres schema and name,
 * the type of each column clients can write, and its row key. A CRUD op may only name tables and
 * columns the replica syncs; anything else is the client's error, reported with what exists.
 */
export interface WriteTarget {
  /** The server name the op used (`table`, or `schema.table` outside `public`). */
  readonly tableName: string;
  /** `"schema"."table"` for SQL. */
  readonly pgName: string;
  readonly columns: ReadonlyMap<string, LiteColumnType>;
  readonly primaryKey: readonly string[];
}

export function readWriteTarget(db: ReplicaDb, tableName: string): WriteTarget {
  const meta = cachedStatement(
    db,
    'SELECT "schema", "name", "primaryKey" FROM "_zero.tableMeta" WHERE "liteName" = ?',
  ).get(tableName) as {schema: string; name: string; primaryKey: string} | undefined;
  if (!meta) {
    throw new MutationInputError(
      `no table "${tableName}" is replicated; check the table name in the app's schema ` +
        `(tables outside "public" are named "schema.table")`,
    );
  }
  const columns = new Map<string, LiteColumnType>();
  const info = cachedStatement(db, 'SELECT name, type FROM pragma_table_info(?)').all(
    tableName,
  ) as {
    name: string;
    type: string;
  }[];
  for (const c of info) {
    if (c.name === ROW_VERSION_COLUMN) continue;
    const t = parseLiteTypeString(c.type);
    if (zqlValueType(t)) columns.set(c.name, t);
  }
  const primaryKey = JSON.parse(meta.primaryKey) as string[];
  if (primaryKey.length === 0) {
    throw new MutationInputError(
      `table "${tableName}" has no primary key or unique index; it cannot be written`,
    );
  }
  return {tableName, pgName: `${pgIdent(meta.schema)}.${pgIdent(meta.name)}`, columns, primaryKey};
}

/** The column's type, or an error naming the columns that exist. */
export function columnType(target: WriteTarget, column: string): LiteColumnType {
  const t = target.columns.get(column);
  if (!t) {
    throw new MutationInputError(
      `table "${target.tableName}" has no synced column "${column}" ` +
        `(its columns: ${[...target.columns.keys()].join(', ')})`,
    );
  }
  return t;
}

/** The op's row-key values, in key order; an error when one is missing or not a scalar. */
export function keyValues(
  target: {readonly tableName: string; readonly primaryKey: readonly string[]},
  value: Readonly<Record<string, unknown>>,
): Record<string, string | number | boolean> {
  const key: Record<string, string | number | boolean> = {};
  for (const col of target.primaryKey) {
    const v = value[col];
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new MutationInputError(
        `the value for "${target.tableName}" lacks its primary key column "${col}" ` +
          `(a key value must be a string, number or boolean; got ${v === undefined ? 'nothing' : JSON.stringify(v)})`,
      );
    }
    key[col] = v;
  }
  return key;
}
