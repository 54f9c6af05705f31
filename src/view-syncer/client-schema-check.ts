import {ProtocolError} from '../protocol/sync-errors.js';
import type {ClientSchema} from '../protocol/sync-up-queries.js';
import {parseLiteTypeString, zqlValueType} from '../replica/column-types.js';
import type {ReplicaDb} from '../replica/replica-file.js';

/**
 * The error for a connection whose client schema a group cannot serve, or undefined: a new
 * group (`stored` undefined) needs a schema the replica can serve (unless the client has a
 * cookie: it is not new); a group that has one needs the same again (tables, columns, types and
 * keys; order does not matter), or none.
 */
export function clientSchemaRefusal(
  db: ReplicaDb,
  stored: ClientSchema | null | undefined,
  schema: ClientSchema | undefined,
  cookie: string | null,
): ProtocolError | undefined {
  if (!schema) {
    if (stored || cookie !== null) return undefined;
    return ProtocolError.of(
      'InvalidConnectionRequest',
      'The initConnection message for a new client group must include client schema.',
    );
  }
  if (stored) {
    if (JSON.stringify(normalize(stored)) === JSON.stringify(normalize(schema))) return undefined;
    return ProtocolError.of(
      'InvalidConnectionRequest',
      'Provided schema does not match previous schema',
    );
  }
  const problems = clientSchemaProblems(db, schema);
  if (problems.length) return ProtocolError.of('SchemaVersionNotSupported', problems.join('\n'));
  return undefined;
}

function normalize(s: ClientSchema): unknown {
  return Object.keys(s.tables)
    .sort()
    .map((t) => [
      t,
      Object.keys(s.tables[t]!.columns)
        .sort()
        .map((c) => [c, s.tables[t]!.columns[c]!.type]),
      [...s.tables[t]!.primaryKey].sort(),
    ]);
}

/**
 * Checks a client's schema against the replica (fact sheet §2.12): every table must be replicated,
 * every column replicated with a syncable type equal to the client's, and the client's primary key
 * must be the column set of a unique index over non-null columns. Returns one problem per line;
 * an empty list means compatible.
 */
export function clientSchemaProblems(db: ReplicaDb, schema: ClientSchema): string[] {
  const problems: string[] = [];
  for (const [table, spec] of Object.entries(schema.tables)) {
    const cols = db.prepare('SELECT name, type FROM pragma_table_info(?)').all(table) as {
      name: string;
      type: string;
    }[];
    if (cols.length === 0) {
      problems.push(`The "${table}" table does not exist or is not one of the replicated tables.`);
      continue;
    }
    const types = new Map(cols.map((c) => [c.name, parseLiteTypeString(c.type)]));
    for (const [col, {type}] of Object.entries(spec.columns)) {
      const t = types.get(col);
      const zt = t && zqlValueType(t);
      if (!t || col === '_0_version')
        problems.push(`The "${table}"."${col}" column does not exist or is not replicated.`);
      else if (!zt)
        problems.push(
          `The "${table}"."${col}" column has type ${t.upstreamType}, which cannot be synced.`,
        );
      else if (zt !== type && type !== 'null') {
        problems.push(
          `The "${table}"."${col}" column's upstream type "${zt}" does not match the client type "${type}".`,
        );
      }
    }
    if (!uniqueIndexes(db, table, types).some((idx) => sameSet(idx, spec.primaryKey))) {
      problems.push(
        `The primary key [${spec.primaryKey.join(', ')}] of "${table}" is not a unique index over non-null columns upstream.`,
      );
    }
  }
  return problems;
}

function uniqueIndexes(
  db: ReplicaDb,
  table: string,
  types: Map<string, {notNull: boolean}>,
): string[][] {
  const indexes = db
    .prepare('SELECT name FROM pragma_index_list(?) WHERE "unique" = 1')
    .all(table) as {name: string}[];
  return indexes
    .map((i) =>
      (db.prepare('SELECT name FROM pragma_index_info(?)').all(i.name) as {name: string}[]).map(
        (c) => c.name,
      ),
    )
    .filter((cols) => cols.every((c) => types.get(c)?.notNull || isReplicaKey(db, table, cols)));
}

function isReplicaKey(db: ReplicaDb, table: string, cols: string[]): boolean {
  const row = db
    .prepare('SELECT "primaryKey" FROM "_zero.tableMeta" WHERE "liteName" = ?')
    .get(table) as {primaryKey: string} | undefined;
  return !!row && sameSet(JSON.parse(row.primaryKey) as string[], cols);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
