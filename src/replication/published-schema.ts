/**
 * The upstream tables, columns and indexes that the shard's publications make visible: what initial
 * sync copies, what DDL event triggers report (ddlStart / ddlUpdate), and what schema-diff compares.
 */
import type postgres from 'postgres';
import type {ColumnSpec, IndexSpec, TableSpec} from '../protocol/change-stream.js';
import {publishedSchemaQuery} from './published-schema-sql.js';

/** Postgres `pg_type.typtype`: b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
export type PgTypeClass = 'b' | 'c' | 'd' | 'e' | 'p' | 'r' | 'm';

/** Postgres `pg_class.relreplident`: d default (primary key), n nothing, f full, i index. */
export type ReplicaIdentity = 'd' | 'n' | 'f' | 'i';

export interface PublishedColumnSpec extends ColumnSpec {
  typeOID: number;
  pgTypeClass: PgTypeClass;
  /** The element type's class for arrays, null otherwise. */
  elemPgTypeClass: PgTypeClass | null;
  /** n of varchar(n) / char(n) (also for arrays of them); null for every other type. */
  characterMaximumLength: number | null;
  dflt: string | null;
}

export interface PublishedTableSpec extends TableSpec {
  oid: number;
  /** Only the published columns (the union of the publications' column lists), in attnum order. */
  columns: Record<string, PublishedColumnSpec>;
  /**
   * The row key: the primary key's columns in key order; else those of the replica identity index;
   * else those of the unique, non-partial, non-expression index over non-null columns with the fewest
   * columns (immediate before deferrable, then by index name); else `[]`. Only indexes whose columns
   * are all published count.
   */
  primaryKey: string[];
  replicaIdentity: ReplicaIdentity;
  /** Publication name → its row filter (`WHERE` expression text) for this table, or null. */
  publications: Record<string, {rowFilter: string | null}>;
}

/** A non-partial, non-expression index of a published table over published columns only. */
export interface PublishedIndexSpec extends IndexSpec {
  isReplicaIdentity: boolean;
  /** False for the index of a DEFERRABLE constraint. */
  isImmediate: boolean;
}

/** Tables ordered by (schema, name), indexes by (schema, name), in byte order of the names. */
export interface PublishedSchema {
  tables: PublishedTableSpec[];
  indexes: PublishedIndexSpec[];
}

/**
 * Reads the published schema of `publications`. Pure catalog SELECTs: safe in a read-only
 * transaction that imported a replication slot's snapshot (`SET TRANSACTION SNAPSHOT`).
 */
export async function getPublishedSchema(
  sql: postgres.Sql | postgres.TransactionSql,
  publications: string[],
): Promise<PublishedSchema> {
  const rows = await sql.unsafe<{schema: PublishedSchema}[]>(publishedSchemaQuery('$1::text[]'), [
    publications,
  ]);
  const schema = rows[0]?.schema;
  if (!schema || !Array.isArray(schema.tables) || !Array.isArray(schema.indexes)) {
    throw new Error(
      `published schema query for publications [${publications.join(', ')}] returned ` +
        `${JSON.stringify(rows[0])}; expected {tables: [...], indexes: [...]}. ` +
        `Check that the connection does not override the json type parser.`,
    );
  }
  return schema;
}

const ALLOWED_TABLE_NAME = /^[A-Za-z_]+[A-Za-z0-9_-]*$/;
// Dots are allowed: replica column names need no schema/table delimiter.
const ALLOWED_COLUMN_NAME = /^[A-Za-z_]+[.A-Za-z0-9_-]*$/;
const RESERVED_VERSION_COLUMN = '_0_version';

/** Upstream base type names whose values clients can receive (fact sheet §2.11). */
const SYNCABLE_TYPES = new Set([
  ...['int2', 'int4', 'int8', 'numeric', 'float4', 'float8'],
  ...['date', 'time', 'timestamp', 'timestamptz'],
  ...['text', 'varchar', 'bpchar', 'uuid', 'bool', 'json', 'jsonb'],
]);

/** Whether clients can receive values of this column: the types of §2.11, any array, any enum. */
export function isSyncableColumnType(spec: ColumnSpec): boolean {
  if (spec.dataType.endsWith('[]') || spec.pgTypeClass === 'e') {
    return true;
  }
  const paren = spec.dataType.indexOf('(');
  const name = (paren < 0 ? spec.dataType : spec.dataType.slice(0, paren)).toLowerCase();
  return SYNCABLE_TYPES.has(name);
}

export interface TableValidation {
  /** Reasons the table cannot be replicated at all; any of them must stop initial sync / DDL. */
  errors: string[];
  /** Replicated, but columns or the whole table will not reach clients. */
  warnings: string[];
  /** Has a unique key over non-null columns of syncable types, so clients can sync its rows. */
  syncable: boolean;
}

/**
 * Checks a published table against zero's requirements (fact sheet §4.1). Pass the schema's
 * `indexes` to check that a REPLICA IDENTITY INDEX exists and to let any unique index make the
 * table syncable; without them only `primaryKey` is considered.
 */
export function validatePublishedTable(
  table: PublishedTableSpec,
  indexes?: readonly PublishedIndexSpec[],
): TableValidation {
  const label = `"${table.schema}"."${table.name}"`;
  const errors: string[] = [];
  const warnings: string[] = [];
  if (!ALLOWED_TABLE_NAME.test(table.name)) {
    errors.push(
      `Table ${label} has characters zero cannot replicate (allowed: ${ALLOWED_TABLE_NAME.source}); ` +
        `rename it or remove it from the publication.`,
    );
  }
  if (RESERVED_VERSION_COLUMN in table.columns) {
    errors.push(
      `Table ${label} uses the reserved column name "${RESERVED_VERSION_COLUMN}"; rename the column ` +
        `or leave it out of the publication's column list.`,
    );
  }
  if (table.replicaIdentity === 'n') {
    errors.push(
      `Table ${label} has REPLICA IDENTITY NOTHING, so its updates and deletes cannot be ` +
        `replicated; run ALTER TABLE ${label} REPLICA IDENTITY DEFAULT (or USING INDEX / FULL).`,
    );
  }
  const tableIndexes = indexes?.filter(
    (i) => i.schema === table.schema && i.tableName === table.name,
  );
  if (
    table.replicaIdentity === 'i' &&
    tableIndexes &&
    !tableIndexes.some((i) => i.isReplicaIdentity)
  ) {
    errors.push(
      `Table ${label} has REPLICA IDENTITY USING INDEX but that index is gone (or partial, or over ` +
        `unpublished columns); run ALTER TABLE ${label} REPLICA IDENTITY USING INDEX <unique index>.`,
    );
  }
  for (const [name, spec] of Object.entries(table.columns)) {
    if (!ALLOWED_COLUMN_NAME.test(name)) {
      errors.push(
        `Column "${name}" of table ${label} has characters zero cannot replicate ` +
          `(allowed: ${ALLOWED_COLUMN_NAME.source}); rename it or leave it out of the column list.`,
      );
    } else if (!isSyncableColumnType(spec)) {
      warnings.push(
        `Column "${name}" of table ${label} has type "${spec.dataType}", which zero does not sync ` +
          `to clients; it is kept in the replica only.`,
      );
    }
  }
  const syncable = hasSyncableKey(table, tableIndexes ?? []);
  if (!syncable) {
    warnings.push(
      `Table ${label} has no primary key or unique index over non-null columns of syncable types, ` +
        `so it is replicated but not synced to clients; add one with ALTER TABLE ${label} ADD PRIMARY KEY (...).`,
    );
  }
  return {errors, warnings, syncable};
}

function hasSyncableKey(
  table: PublishedTableSpec,
  indexes: readonly PublishedIndexSpec[],
): boolean {
  const keys = [
    table.primaryKey,
    ...indexes.filter((i) => i.unique).map((i) => Object.keys(i.columns)),
  ];
  return keys.some(
    (key) =>
      key.length > 0 &&
      key.every((col) => {
        const spec = table.columns[col];
        return spec !== undefined && spec.notNull && isSyncableColumnType(spec);
      }),
  );
}
