/**
 * Turns two published schemas (ddlStart's and ddlUpdate's) into the schema changes the replica must
 * apply. Tables are matched by oid, columns by attnum, indexes by `schema.name`.
 *
 * Order (SQLite refuses to drop an indexed column, and new indexes may need new columns):
 * drop-index, drop-table, then per kept table rename-table, drop-column, update-column, add-column,
 * then create-table, create-index.
 *
 * Not handled here: rows. A table that becomes published (e.g. ALTER PUBLICATION ADD TABLE, or a
 * CREATE TABLE in a FOR TABLES IN SCHEMA publication) comes out as create-table, and a column that
 * becomes published (a widened column list) as add-column, but their existing upstream rows or values
 * are not in the WAL; the caller must copy them (or resync). Row filter changes likewise.
 */
import type {
  ColumnSpec,
  DataChange,
  IndexSpec,
  TableId,
  TableSpec,
} from '../protocol/change-stream.js';
import type {PublishedIndexSpec, PublishedSchema, PublishedTableSpec} from './published-schema.js';

export function diffPublishedSchemas(
  before: PublishedSchema,
  after: PublishedSchema,
): DataChange[] {
  const beforeTables = new Map(before.tables.map((t) => [t.oid, t]));
  const afterTables = new Map(after.tables.map((t) => [t.oid, t]));
  const beforeIndexes = new Map(before.indexes.map((i) => [qualifiedName(i), i]));
  const afterIndexes = new Map(after.indexes.map((i) => [qualifiedName(i), i]));
  const tableChanges = after.tables.flatMap((t) => {
    const old = beforeTables.get(t.oid);
    return old ? diffTable(old, t) : [];
  });
  const replaced = replacedIndexes(before, after, retypedColumnsOf(tableChanges));
  const droppedIndexes = before.indexes.filter(
    (i) => !afterIndexes.has(qualifiedName(i)) || replaced.has(qualifiedName(i)),
  );
  const createdIndexes = after.indexes.filter(
    (i) => !beforeIndexes.has(qualifiedName(i)) || replaced.has(qualifiedName(i)),
  );
  return [
    ...droppedIndexes.map(
      (i) => ({tag: 'drop-index', id: {schema: i.schema, name: i.name}}) as const,
    ),
    ...before.tables
      .filter((t) => !afterTables.has(t.oid))
      .map((t) => ({tag: 'drop-table', id: tableID(t)}) as const),
    ...tableChanges,
    ...after.tables
      .filter((t) => !beforeTables.has(t.oid))
      .map((t) => ({tag: 'create-table', spec: toTableSpec(t)}) as const),
    ...createdIndexes.map((i) => ({tag: 'create-index', spec: toIndexSpec(i)}) as const),
  ];
}

function diffTable(before: PublishedTableSpec, after: PublishedTableSpec): DataChange[] {
  const changes: DataChange[] = [];
  const table = tableID(after);
  if (before.schema !== after.schema || before.name !== after.name) {
    changes.push({tag: 'rename-table', old: tableID(before), new: table});
  }
  const beforeColumns = columnsByPos(before);
  const afterColumns = columnsByPos(after);
  for (const [pos, {name}] of beforeColumns) {
    if (!afterColumns.has(pos)) {
      changes.push({tag: 'drop-column', table, column: name});
    }
  }
  for (const [pos, next] of afterColumns) {
    const prev = beforeColumns.get(pos);
    if (
      prev &&
      (prev.name !== next.name ||
        prev.spec.dataType !== next.spec.dataType ||
        prev.spec.notNull !== next.spec.notNull)
    ) {
      changes.push({tag: 'update-column', table, old: prev, new: next});
    }
  }
  for (const [pos, column] of afterColumns) {
    if (!beforeColumns.has(pos)) {
      changes.push({tag: 'add-column', table, column});
    }
  }
  return changes;
}

type NamedColumn = {name: string; spec: ColumnSpec};

function columnsByPos(table: PublishedTableSpec): Map<number, NamedColumn> {
  const entries = Object.entries(table.columns).sort(([, a], [, b]) => a.pos - b.pos);
  return new Map(entries.map(([name, spec]) => [spec.pos, {name, spec}]));
}

/** `schema.table.column` (new names) of columns whose type or nullability changed. */
function retypedColumnsOf(changes: DataChange[]): Set<string> {
  const retyped = new Set<string>();
  for (const change of changes) {
    if (
      change.tag === 'update-column' &&
      (change.old.spec.dataType !== change.new.spec.dataType ||
        change.old.spec.notNull !== change.new.spec.notNull)
    ) {
      retyped.add(`${change.table.schema}.${change.table.name}.${change.new.name}`);
    }
  }
  return retyped;
}

/**
 * Names of indexes kept by name but now over other columns, or over a column whose declared type
 * changed: they are dropped and re-created, as SQLite can alter neither an index nor the type of an
 * indexed column.
 */
function replacedIndexes(
  before: PublishedSchema,
  after: PublishedSchema,
  retypedColumns: Set<string>,
): Set<string> {
  const beforeIndexes = new Map(before.indexes.map((i) => [qualifiedName(i), i]));
  const beforeTables = new Map(before.tables.map((t) => [qualifiedName(t), t]));
  const afterTables = new Map(after.tables.map((t) => [qualifiedName(t), t]));
  const tableOf = (tables: Map<string, PublishedTableSpec>, index: PublishedIndexSpec) =>
    tables.get(qualifiedName({schema: index.schema, name: index.tableName}));
  const replaced = new Set<string>();
  for (const index of after.indexes) {
    const old = beforeIndexes.get(qualifiedName(index));
    if (
      old &&
      indexChanged(
        old,
        index,
        tableOf(beforeTables, old),
        tableOf(afterTables, index),
        retypedColumns,
      )
    ) {
      replaced.add(qualifiedName(index));
    }
  }
  return replaced;
}

function indexChanged(
  before: PublishedIndexSpec,
  after: PublishedIndexSpec,
  beforeTable: PublishedTableSpec | undefined,
  afterTable: PublishedTableSpec | undefined,
  retypedColumns: Set<string>,
): boolean {
  if (!beforeTable || !afterTable || beforeTable.oid !== afterTable.oid) {
    return true;
  }
  if (before.unique !== after.unique) {
    return true;
  }
  // Compare by attnum so that renamed columns (which SQLite renames in its indexes) do not count.
  const beforeKey = Object.entries(before.columns).map(
    ([col, dir]) => `${beforeTable.columns[col]?.pos}:${dir}`,
  );
  const afterKey = Object.entries(after.columns).map(
    ([col, dir]) => `${afterTable.columns[col]?.pos}:${dir}`,
  );
  return (
    beforeKey.join(',') !== afterKey.join(',') ||
    Object.keys(after.columns).some((col) =>
      retypedColumns.has(`${after.schema}.${after.tableName}.${col}`),
    )
  );
}

/** `schema.name`: how indexes are matched (and tables found by name). */
function qualifiedName({schema, name}: {schema: string; name: string}): string {
  return `${schema}.${name}`;
}

function tableID(table: TableId): TableId {
  return {schema: table.schema, name: table.name};
}

/** The replica needs neither publications nor replica identity; keep change-log entries lean. */
function toTableSpec(table: PublishedTableSpec): TableSpec {
  const {schema, name, oid, columns, primaryKey} = table;
  return {schema, name, oid, columns, primaryKey};
}

function toIndexSpec(index: PublishedIndexSpec): IndexSpec {
  const {schema, tableName, name, unique, columns} = index;
  return {schema, tableName, name, unique, columns};
}
