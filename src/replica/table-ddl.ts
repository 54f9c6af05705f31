import type {IndexSpec, TableId, TableSpec} from '../protocol/change-stream.js';
import {liteTypeString} from './column-types.js';
import {ident, liteTableName, ROW_VERSION_COLUMN} from './names.js';
import type {ReplicaDb} from './replica-file.js';

/**
 * Replica tables and indexes from upstream specs, and the `_zero.tableMeta` record of each table's
 * row key (the columns the per-row change list and the applier identify rows by).
 */
export function createTable(db: ReplicaDb, spec: TableSpec, initialVersion: string): void {
  const name = liteTableName(spec);
  const cols = Object.entries(spec.columns)
    .sort(([, a], [, b]) => a.pos - b.pos)
    .map(([col, c]) => `${ident(col)} ${ident(liteTypeString(c))}`);
  cols.push(`${ident(ROW_VERSION_COLUMN)} TEXT NOT NULL DEFAULT '${initialVersion}'`);
  db.exec(`CREATE TABLE ${ident(name)} (${cols.join(', ')})`);
  writeTableMeta(db, spec, spec.primaryKey);
}

/** The unique index over the row key. Separate from createTable so bulk loads can index afterwards. */
export function createPrimaryKeyIndex(db: ReplicaDb, spec: TableSpec): void {
  if (spec.primaryKey.length === 0) return;
  const name = liteTableName(spec);
  db.exec(
    `CREATE UNIQUE INDEX IF NOT EXISTS ${ident(`${name}_zkey`)} ON ${ident(name)} (${spec.primaryKey.map(ident).join(', ')})`,
  );
}

export function createIndex(db: ReplicaDb, spec: IndexSpec): void {
  const table = liteTableName({schema: spec.schema, name: spec.tableName});
  const cols = Object.entries(spec.columns).map(([c, dir]) => `${ident(c)} ${dir}`);
  db.exec(
    `CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${ident(indexName(spec))} ON ${ident(table)} (${cols.join(', ')})`,
  );
}

export function indexName(id: {schema: string; name: string}): string {
  return id.schema === 'public' ? id.name : `${id.schema}.${id.name}`;
}

export function writeTableMeta(db: ReplicaDb, t: TableId, primaryKey: string[]): void {
  db.prepare(
    'INSERT OR REPLACE INTO "_zero.tableMeta" ("liteName","schema","name","primaryKey") VALUES (?,?,?,?)',
  ).run(liteTableName(t), t.schema, t.name, JSON.stringify(primaryKey));
}

export function readPrimaryKey(db: ReplicaDb, liteName: string): string[] | null {
  const row = db
    .prepare('SELECT "primaryKey" FROM "_zero.tableMeta" WHERE "liteName" = ?')
    .get(liteName) as {primaryKey: string} | undefined;
  return row ? (JSON.parse(row.primaryKey) as string[]) : null;
}
