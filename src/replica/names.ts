import type {TableId} from '../protocol/change-stream.js';

/** Replica table name: `table` for the `public` schema, `schema.table` otherwise (fact sheet §5.3). */
export function liteTableName(t: TableId): string {
  return t.schema === 'public' ? t.name : `${t.schema}.${t.name}`;
}

/** A quoted SQLite identifier. */
export function ident(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Name of the row-version column that every replicated table carries. */
export const ROW_VERSION_COLUMN = '_0_version';
