import type {Ordering, Row} from '../ivm/data.js';
import {ident} from '../../replica/names.js';
import {encodeValue} from './row-decoding.js';

/**
 * SQL for "rows at or after `start` in this ordering" (after = later in the fetch direction), so
 * that SQLite seeks instead of the caller skipping rows one by one. ZQL orders nulls lowest, and
 * the ordering is complete (it ends with the primary key), so the condition is the usual
 * lexicographic one with null-aware comparisons. A leading range on the first column lets SQLite
 * use an index on it.
 */
export function startBoundSql(
  order: Ordering,
  start: {row: Row; basis: 'at' | 'after'},
  reverse: boolean,
): {sql: string; params: (string | number | null)[]} {
  const params: (string | number | null)[] = [];
  const value = (c: string) => encodeValue(start.row[c] ?? null);
  // Parameters are pushed in the order their placeholders appear in the SQL.
  const [first, firstDir] = order[0]!;
  const lead = notEarlier(first, value(first), (firstDir === 'asc') !== reverse, params);
  const ors: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) ands.push(eq(order[j]![0], value(order[j]![0]), params));
    const [col, dir] = order[i]!;
    ands.push(later(col, value(col), (dir === 'asc') !== reverse, params));
    ors.push(`(${ands.join(' AND ')})`);
  }
  if (start.basis === 'at') {
    ors.push(`(${order.map(([c]) => eq(c, value(c), params)).join(' AND ')})`);
  }
  return {sql: `(${lead} AND (${ors.join(' OR ')}))`, params};
}

function eq(col: string, v: string | number | null, params: unknown[]): string {
  params.push(v);
  return `${ident(col)} IS ?`;
}

/** `col` strictly later than v when scanning ascending (`up`) or descending, nulls lowest. */
function later(col: string, v: string | number | null, up: boolean, params: unknown[]): string {
  const c = ident(col);
  if (v === null) return up ? `${c} IS NOT NULL` : '0';
  params.push(v);
  return up ? `${c} > ?` : `(${c} < ? OR ${c} IS NULL)`;
}

/** `col` at or later than v in the scan direction (a superset, for index seeks). */
function notEarlier(
  col: string,
  v: string | number | null,
  up: boolean,
  params: unknown[],
): string {
  const c = ident(col);
  if (v === null) return up ? '1' : `${c} IS NULL`;
  params.push(v);
  return up ? `${c} >= ?` : `(${c} <= ? OR ${c} IS NULL)`;
}
