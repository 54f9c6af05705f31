import type {CRUDOp} from '../protocol/sync-up-push.js';
import {baseTypeName, zqlValueType, type LiteColumnType} from '../replica/column-types.js';
import {pgIdent} from '../replication/shard-names.js';
import {columnType, keyValues, type WriteTarget} from './write-target.js';
import {MutationInputError} from './mutation-errors.js';

/**
 * The Postgres statement of one CRUD op (fact sheet §7.6): insert; upsert (`ON CONFLICT` on the
 * row key `DO UPDATE` the given columns); update of the given columns by key; delete by key.
 * Values arrive as the client holds them (§2.11: timestamps and dates as epoch ms, times as ms
 * since midnight, json as values, arrays as JSON arrays) and are turned back into Postgres values
 * here, typed by the column's upstream type; a value of the wrong kind is refused with the column
 * named, before anything reaches Postgres.
 */
export interface CrudStatement {
  readonly text: string;
  readonly params: unknown[];
}

/** The statement for `op`, or null when it changes nothing (an update of key columns only). */
export function crudStatement(op: CRUDOp, target: WriteTarget): CrudStatement | null {
  const params: unknown[] = [];
  const expr = (column: string, value: unknown) =>
    paramExpression(target, column, value, (p) => params.push(p));
  const key = keyValues(target, op.value);
  // Built only by the ops that use it: every parameter added must appear in the text.
  const where = () =>
    Object.entries(key)
      .map(([c, v]) => `${pgIdent(c)} = ${expr(c, v)}`)
      .join(' AND ');
  const written = Object.entries(op.value).filter(([, v]) => v !== undefined);
  switch (op.op) {
    case 'insert':
    case 'upsert': {
      const cols = written.map(([c]) => pgIdent(c)).join(', ');
      const values = written.map(([c, v]) => expr(c, v)).join(', ');
      let text = `INSERT INTO ${target.pgName} (${cols}) VALUES (${values})`;
      if (op.op === 'upsert') {
        const set = written.map(([c]) => `${pgIdent(c)} = EXCLUDED.${pgIdent(c)}`).join(', ');
        text += ` ON CONFLICT (${target.primaryKey.map(pgIdent).join(', ')}) DO UPDATE SET ${set}`;
      }
      return {text, params};
    }
    case 'update': {
      const changed = written.filter(([c]) => !(c in key));
      if (changed.length === 0) return null;
      const set = changed.map(([c, v]) => `${pgIdent(c)} = ${expr(c, v)}`).join(', ');
      return {text: `UPDATE ${target.pgName} SET ${set} WHERE ${where()}`, params};
    }
    case 'delete':
      return {text: `DELETE FROM ${target.pgName} WHERE ${where()}`, params};
  }
}

/** Adds the value as a parameter and returns the SQL expression that reads it as the column's type. */
function paramExpression(
  target: WriteTarget,
  column: string,
  value: unknown,
  add: (param: unknown) => number,
): string {
  const type = columnType(target, column);
  if (value === null) return `$${add(null)}`;
  checkKind(target, column, type, value);
  if (type.isArray) return `$${add(arrayLiteral(value as unknown[]))}`;
  const base = baseTypeName(type);
  // Typed as text first: postgres.js would otherwise JSON-encode the JSON text a second time.
  if (base === 'json' || base === 'jsonb') return `$${add(JSON.stringify(value))}::text::${base}`;
  const temporal = typeof value === 'number' ? TEMPORAL_FROM_MS[base] : undefined;
  return temporal ? temporal(`$${add(value)}::float8`) : `$${add(value)}`;
}

/** Temporal columns from the client's numbers (epoch ms; ms since midnight for `time`). */
const TEMPORAL_FROM_MS: Record<string, (ms: string) => string> = {
  timestamptz: (ms) => `to_timestamp(${ms} / 1000)`,
  timestamp: (ms) => `(to_timestamp(${ms} / 1000) AT TIME ZONE 'UTC')`,
  date: (ms) => `(to_timestamp(${ms} / 1000) AT TIME ZONE 'UTC')::date`,
  time: (ms) => `('00:00'::time + ${ms} * interval '1 millisecond')`,
};

function checkKind(target: WriteTarget, column: string, type: LiteColumnType, value: unknown) {
  const expected = zqlValueType(type);
  const ok = type.isArray
    ? Array.isArray(value)
    : expected === 'json'
      ? true
      : typeof value === expected ||
        (expected === 'number' && typeof value === 'string' && isTemporal(type));
  if (!ok) {
    throw new MutationInputError(
      `${target.tableName}.${column} is ${type.upstreamType}; ` +
        `it takes ${type.isArray ? 'an array' : `a ${expected}`}, not ${JSON.stringify(value)}`,
    );
  }
}

/** Temporal columns also take Postgres' own text forms ('2024-05-01T10:00:00Z'). */
function isTemporal(type: LiteColumnType): boolean {
  return baseTypeName(type) in TEMPORAL_FROM_MS;
}

/** A Postgres array literal (`{"a","b"}`), nested arrays as nested braces. */
export function arrayLiteral(values: readonly unknown[]): string {
  const element = (v: unknown): string => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return arrayLiteral(v);
    const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return '"' + text.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  };
  return '{' + values.map(element).join(',') + '}';
}
