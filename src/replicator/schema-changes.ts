import type {DataChange, TableId} from '../protocol/change-stream.js';
import {liteTypeString} from '../replica/column-types.js';
import {ident, liteTableName, ROW_VERSION_COLUMN} from '../replica/names.js';
import type {ReplicaDb} from '../replica/replica-file.js';
import type {RowChangeWriter} from '../replica/row-changes.js';
import {
  createIndex,
  createPrimaryKeyIndex,
  createTable,
  indexName,
  readPrimaryKey,
  writeTableMeta,
} from '../replica/table-ddl.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import {columnDefault} from './column-defaults.js';

/**
 * Upstream DDL applied to the replica. Every schema change records a table-wide `r` entry (readers
 * rehydrate that table), and column changes restamp every row's `_0_version` so clients receive
 * the rows' new shape.
 *
 * Not guaranteed: a column added with a non-constant default (e.g. `now()`) holds NULL in existing
 * replica rows until they are next written, because Postgres emits no row changes for it; a column
 * type change keeps the stored values as they were.
 */
type SchemaChange = Exclude<DataChange, {tag: 'insert' | 'update' | 'delete' | 'truncate'}>;

export function isSchemaChange(c: DataChange): c is SchemaChange {
  return !['insert', 'update', 'delete', 'truncate'].includes(c.tag);
}

export function applySchemaChange(
  db: ReplicaDb,
  c: SchemaChange,
  v: LexiVersion,
  log: RowChangeWriter,
): void {
  switch (c.tag) {
    case 'create-table':
      createTable(db, c.spec, v);
      createPrimaryKeyIndex(db, c.spec);
      return log.tableChanged(v, liteTableName(c.spec), 'r');
    case 'rename-table':
      return renameTable(db, c.old, c.new, v, log);
    case 'add-column': {
      const t = liteTableName(c.table);
      const dflt = columnDefault(c.column.spec);
      db.exec(
        `ALTER TABLE ${ident(t)} ADD COLUMN ${ident(c.column.name)} ${ident(liteTypeString(c.column.spec))}` +
          (dflt === null ? '' : ` DEFAULT ${dflt}`),
      );
      return restamp(db, t, v, log);
    }
    case 'update-column':
      return updateColumn(db, c, v, log);
    case 'drop-column': {
      const t = liteTableName(c.table);
      db.exec(`ALTER TABLE ${ident(t)} DROP COLUMN ${ident(c.column)}`);
      return restamp(db, t, v, log);
    }
    case 'drop-table': {
      const t = liteTableName(c.id);
      db.exec(`DROP TABLE IF EXISTS ${ident(t)}`);
      db.prepare('DELETE FROM "_zero.tableMeta" WHERE "liteName" = ?').run(t);
      return log.tableChanged(v, t, 'r');
    }
    case 'create-index':
      createIndex(db, c.spec);
      return log.tableChanged(
        v,
        liteTableName({schema: c.spec.schema, name: c.spec.tableName}),
        'r',
      );
    case 'drop-index':
      db.exec(`DROP INDEX IF EXISTS ${ident(indexName(c.id))}`);
      return;
  }
}

function restamp(db: ReplicaDb, table: string, v: LexiVersion, log: RowChangeWriter): void {
  db.prepare(`UPDATE ${ident(table)} SET ${ident(ROW_VERSION_COLUMN)} = ?`).run(v);
  log.tableChanged(v, table, 'r');
}

function renameTable(
  db: ReplicaDb,
  from: TableId,
  to: TableId,
  v: LexiVersion,
  log: RowChangeWriter,
): void {
  const oldName = liteTableName(from);
  const newName = liteTableName(to);
  const key = readPrimaryKey(db, oldName) ?? [];
  db.exec(`ALTER TABLE ${ident(oldName)} RENAME TO ${ident(newName)}`);
  db.prepare('DELETE FROM "_zero.tableMeta" WHERE "liteName" = ?').run(oldName);
  writeTableMeta(db, to, key);
  log.tableChanged(v, oldName, 'r');
  restamp(db, newName, v, log);
}

function updateColumn(
  db: ReplicaDb,
  c: Extract<SchemaChange, {tag: 'update-column'}>,
  v: LexiVersion,
  log: RowChangeWriter,
): void {
  const t = liteTableName(c.table);
  let name = c.old.name;
  if (c.new.name !== name) {
    db.exec(`ALTER TABLE ${ident(t)} RENAME COLUMN ${ident(name)} TO ${ident(c.new.name)}`);
    renameKeyColumn(db, c.table, name, c.new.name);
    name = c.new.name;
  }
  const oldType = liteTypeString(c.old.spec);
  const newType = liteTypeString(c.new.spec);
  if (oldType !== newType) {
    // SQLite cannot change a declared type in place: copy through a new column.
    const tmp = `${name}__zcache_tmp`;
    db.exec(`ALTER TABLE ${ident(t)} ADD COLUMN ${ident(tmp)} ${ident(newType)}`);
    db.exec(`UPDATE ${ident(t)} SET ${ident(tmp)} = ${ident(name)}`);
    const indexes = dropIndexesOnColumn(db, t, name);
    db.exec(`ALTER TABLE ${ident(t)} DROP COLUMN ${ident(name)}`);
    db.exec(`ALTER TABLE ${ident(t)} RENAME COLUMN ${ident(tmp)} TO ${ident(name)}`);
    for (const sql of indexes) db.exec(sql);
  }
  restamp(db, t, v, log);
}

function renameKeyColumn(db: ReplicaDb, table: TableId, from: string, to: string): void {
  const key = readPrimaryKey(db, liteTableName(table));
  if (key?.includes(from))
    writeTableMeta(
      db,
      table,
      key.map((k) => (k === from ? to : k)),
    );
}

/** Drops the indexes over `column` and returns the SQL that re-creates them. */
function dropIndexesOnColumn(db: ReplicaDb, table: string, column: string): string[] {
  const indexes = db
    .prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
    )
    .all(table) as {name: string; sql: string}[];
  const hit = indexes.filter((i) =>
    (db.prepare(`SELECT name FROM pragma_index_info(?)`).all(i.name) as {name: string}[]).some(
      (c) => c.name === column,
    ),
  );
  for (const i of hit) db.exec(`DROP INDEX ${ident(i.name)}`);
  return hit.map((i) => i.sql);
}
