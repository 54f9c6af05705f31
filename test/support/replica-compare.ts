import Database from 'better-sqlite3';
import type postgres from 'postgres';
import {expect} from 'vitest';

/**
 * Compares a replica table with its upstream table, value by value. Postgres itself computes the
 * expected replica value of each column (epoch ms via extract(), 0/1 for booleans, JSON via
 * to_json), so the check does not share code with the replicator's decoders.
 */
export type ColumnKind =
  'number' | 'int8' | 'bool' | 'text' | 'json' | 'timestamp' | 'date' | 'time';

function expectedExpr(col: string, kind: ColumnKind): string {
  const c = `"${col}"`;
  switch (kind) {
    case 'number':
      return `${c}::text::float8`; // the shortest text form, as COPY and pgoutput send it
    case 'int8':
      return `${c}::text`;
    case 'bool':
      return `${c}::int`;
    case 'text':
      // The output function, not ::text, which trims char(n) padding.
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE format('%s', ${c}) END`;
    case 'json':
      return `to_json(${c})::text`;
    case 'timestamp':
      return `(extract(epoch from ${c}) * 1000)::text`;
    case 'date':
      return `(extract(epoch from ${c}::timestamp) * 1000)::text`;
    case 'time':
      return `floor(extract(epoch from ${c}) * 1000)::text`;
  }
}

function normalizeUpstream(v: unknown, kind: ColumnKind): unknown {
  if (v === null) return null;
  switch (kind) {
    case 'int8':
      return BigInt(v as string).toString();
    case 'json':
      return JSON.parse(v as string);
    case 'timestamp':
    case 'date':
    case 'time':
      return Number(v);
    default:
      return v;
  }
}

function normalizeReplica(v: unknown, kind: ColumnKind): unknown {
  if (v === null) return null;
  switch (kind) {
    case 'int8':
      return BigInt(v as number | bigint).toString();
    case 'number':
    case 'bool':
    case 'timestamp':
    case 'date':
    case 'time':
      return Number(v);
    case 'json':
      return typeof v === 'string' ? JSON.parse(v) : v;
    default:
      return v;
  }
}

export async function upstreamRows(
  sql: postgres.Sql,
  table: string,
  columns: Record<string, ColumnKind>,
  orderBy: string[],
): Promise<Record<string, unknown>[]> {
  const select = Object.entries(columns)
    .map(([c, k]) => `${expectedExpr(c, k)} AS "${c}"`)
    .join(', ');
  const rows = await sql.unsafe(`SELECT ${select} FROM ${table}`);
  return sortByKey(
    rows.map((r) =>
      Object.fromEntries(Object.entries(columns).map(([c, k]) => [c, normalizeUpstream(r[c], k)])),
    ),
    orderBy,
  );
}

export function replicaRows(
  replicaFile: string,
  liteTable: string,
  columns: Record<string, ColumnKind>,
  orderBy: string[],
): Record<string, unknown>[] {
  const db = new Database(replicaFile, {readonly: true});
  try {
    const cols = Object.keys(columns)
      .map((c) => `"${c}"`)
      .join(', ');
    const rows = db
      .prepare(`SELECT ${cols} FROM "${liteTable}"`)
      .safeIntegers(true)
      .all() as Record<string, unknown>[];
    return sortByKey(
      rows.map((r) =>
        Object.fromEntries(Object.entries(columns).map(([c, k]) => [c, normalizeReplica(r[c], k)])),
      ),
      orderBy,
    );
  } finally {
    db.close();
  }
}

/** Sorts rows by their key values, in one order both sides share (not a collation). */
function sortByKey(rows: Record<string, unknown>[], key: string[]): Record<string, unknown>[] {
  const k = (r: Record<string, unknown>) => JSON.stringify(key.map((c) => r[c]));
  return rows.sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

export async function expectReplicaEqualsUpstream(
  sql: postgres.Sql,
  replicaFile: string,
  table: {upstream: string; replica: string},
  columns: Record<string, ColumnKind>,
  orderBy: string[],
): Promise<void> {
  const expected = await upstreamRows(sql, table.upstream, columns, orderBy);
  const actual = replicaRows(replicaFile, table.replica, columns, orderBy);
  expect(actual).toEqual(expected);
}
