import type {Condition, SimpleCondition} from '../../protocol/ast.js';
import {ident} from '../../replica/names.js';
import {encodeValue} from './row-decoding.js';

/**
 * The part of a where clause SQLite can evaluate exactly like the client: the top-level AND of
 * comparisons, IS, and IN between a column and a literal. LIKE is left to JS (SQLite's LIKE folds
 * ASCII case and has no `\` escape); EXISTS and OR stay in the Filter operator. Pushing down is an
 * optimisation only: the Filter re-checks every row.
 */
export interface SqlFilter {
  sql: string;
  params: (string | number | null)[];
  conditions: SimpleCondition[];
}

const PUSHABLE = new Set(['=', '!=', '<', '>', '<=', '>=', 'IS', 'IS NOT', 'IN', 'NOT IN']);

export function pushableConditions(where: Condition | undefined): SimpleCondition[] {
  if (!where) return [];
  const parts = where.type === 'and' ? where.conditions : [where];
  return parts.filter(
    (c): c is SimpleCondition =>
      c.type === 'simple' &&
      PUSHABLE.has(c.op) &&
      c.left.type === 'column' &&
      c.right.type === 'literal',
  );
}

export function filterSql(conditions: SimpleCondition[]): SqlFilter {
  const sql: string[] = [];
  const params: (string | number | null)[] = [];
  for (const c of conditions) {
    const col = ident((c.left as {name: string}).name);
    const value = (c.right as {value: unknown}).value;
    if (c.op === 'IN' || c.op === 'NOT IN') {
      const list = (value as unknown[]).map((v) => encodeValue(v as never));
      // SQLite makes `NULL NOT IN ()` true; ZQL never matches a null left side.
      const test = `${col} ${c.op} (SELECT value FROM json_each(?))`;
      sql.push(c.op === 'NOT IN' ? `(${col} IS NOT NULL AND ${test})` : test);
      params.push(JSON.stringify(list));
    } else if (value === null && c.op !== 'IS' && c.op !== 'IS NOT') {
      sql.push('0');
    } else {
      sql.push(`${col} ${c.op} ?`);
      params.push(encodeValue(value as never));
    }
  }
  return {sql: sql.join(' AND '), params, conditions};
}
