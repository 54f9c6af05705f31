import type {
  Bound,
  Condition,
  CorrelatedSubqueryCondition,
  Ordering,
  SimpleCondition,
} from '../../src/protocol/ast.js';
import {
  columnOf,
  tableOf,
  type FuzzColumn,
  type FuzzSchema,
  type FuzzTable,
  type Value,
} from './fuzz-schema.js';

/**
 * SQL text for the oracle: WHERE trees (with correlated EXISTS), completed orderings and `start`
 * bounds, written from the fact sheet (§8.6), independent of src/zql. Every boolean expression
 * produced here is 0 or 1, never NULL, so SQL's three-valued logic cannot leak into and/or.
 */
export const LIKE_FUNCTION = 'zql_oracle_like';

/** Collects positional parameters in the order their `?` appear, and hands out table aliases. */
export class SqlBuilder {
  readonly params: unknown[] = [];
  #aliases = 0;

  bind(value: Value | number): string {
    this.params.push(toSqliteValue(value));
    return '?';
  }

  nextAlias(): string {
    return `q${this.#aliases++}`;
  }
}

export function ident(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

export function toSqliteValue(value: Value): string | number | null {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

export function fromSqliteValue(column: FuzzColumn, value: unknown): Value {
  if (value === null || value === undefined) return null;
  switch (column.type) {
    case 'bool':
      return value !== 0 && value !== 0n;
    case 'int':
    case 'real':
      return Number(value);
    case 'text':
      return String(value);
  }
}

/** `orderBy` with the missing primary-key columns appended ascending (§8.6). */
export function completeOrdering(table: FuzzTable, orderBy: Ordering | undefined): Ordering {
  const ordering = [...(orderBy ?? [])];
  for (const pk of table.primaryKey) {
    if (!ordering.some(([c]) => c === pk)) ordering.push([pk, 'asc']);
  }
  return ordering;
}

export function orderBySql(alias: string, ordering: Ordering): string {
  // SQLite sorts NULL lowest and TEXT by BINARY (UTF-8 bytes): exactly the ZQL order.
  return ordering.map(([c, dir]) => `${alias}.${ident(c)} ${dir.toUpperCase()}`).join(', ');
}

export function conditionSql(
  b: SqlBuilder,
  schema: FuzzSchema,
  table: FuzzTable,
  alias: string,
  cond: Condition,
): string {
  switch (cond.type) {
    case 'simple':
      return simpleSql(b, table, alias, cond);
    case 'and':
      if (cond.conditions.length === 0) return '1';
      return `(${cond.conditions.map((c) => conditionSql(b, schema, table, alias, c)).join(' AND ')})`;
    case 'or':
      if (cond.conditions.length === 0) return '0';
      return `(${cond.conditions.map((c) => conditionSql(b, schema, table, alias, c)).join(' OR ')})`;
    case 'correlatedSubquery':
      return existsSql(b, schema, alias, cond);
  }
}

function simpleSql(b: SqlBuilder, table: FuzzTable, alias: string, cond: SimpleCondition): string {
  if (cond.left.type !== 'column' || cond.right.type !== 'literal') {
    throw new Error(`oracle: only column-op-literal conditions are supported`);
  }
  const column = columnOf(table, cond.left.name);
  const col = `${alias}.${ident(column.name)}`;
  const literal = cond.right.value;
  if (cond.op === 'IS' || cond.op === 'IS NOT') {
    if (Array.isArray(literal)) throw new Error(`oracle: ${cond.op} with an array`);
    return `(${col} ${cond.op} ${b.bind(literal as Value)})`;
  }
  if (literal === null) return '0'; // any other op with a null operand is false
  if (cond.op === 'IN' || cond.op === 'NOT IN') {
    if (!Array.isArray(literal)) throw new Error(`oracle: ${cond.op} needs an array`);
    const list = (literal as Value[]).map((v) => b.bind(v)).join(', ');
    return `(${col} IS NOT NULL AND ${col} ${cond.op} (${list}))`;
  }
  if (Array.isArray(literal)) throw new Error(`oracle: ${cond.op} with an array`);
  const value = literal as Value;
  switch (cond.op) {
    case 'LIKE':
    case 'NOT LIKE':
    case 'ILIKE':
    case 'NOT ILIKE': {
      const caseInsensitive = cond.op.includes('ILIKE') ? 1 : 0;
      const wanted = cond.op.startsWith('NOT') ? 0 : 1;
      const call = `${LIKE_FUNCTION}(${col}, ${b.bind(value)}, ${caseInsensitive})`;
      return `(${col} IS NOT NULL AND ${call} = ${wanted})`;
    }
    case '!=':
      return `(${col} IS NOT NULL AND ${col} <> ${b.bind(value)})`;
    default:
      return `(${col} IS NOT NULL AND ${col} ${cond.op} ${b.bind(value)})`;
  }
}

/** Correlation equality; `=` never matches NULL, which is the join rule (§8.6). */
export function correlationSql(
  childAlias: string,
  childFields: readonly string[],
  parentFields: readonly string[],
  parentValue: (field: string) => string,
): string {
  return childFields
    .map((cf, i) => `${childAlias}.${ident(cf)} = ${parentValue(parentFields[i]!)}`)
    .join(' AND ');
}

function existsSql(
  b: SqlBuilder,
  schema: FuzzSchema,
  parentAlias: string,
  cond: CorrelatedSubqueryCondition,
): string {
  const {subquery, correlation} = cond.related;
  // A condition subquery with limit 0 short-circuits: EXISTS false, NOT EXISTS true (§2.10).
  if (subquery.limit === 0) return cond.op === 'EXISTS' ? '0' : '1';
  if (subquery.start) throw new Error('oracle: `start` is only supported on the root query');
  const child = tableOf(schema, subquery.table);
  const alias = b.nextAlias();
  const join = correlationSql(
    alias,
    correlation.childField,
    correlation.parentField,
    (pf) => `${parentAlias}.${ident(pf)}`,
  );
  const where = subquery.where ? conditionSql(b, schema, child, alias, subquery.where) : '1';
  const select = `SELECT 1 FROM ${ident(child.name)} AS ${alias} WHERE ${join} AND ${where}`;
  return `(${cond.op} (${select}))`;
}

/**
 * Rows at or after (`exclusive`: strictly after) `bound` in `ordering`: a lexicographic comparison
 * where NULL is the lowest value and `desc` reverses a column.
 */
export function startSql(
  b: SqlBuilder,
  table: FuzzTable,
  alias: string,
  ordering: Ordering,
  bound: Bound,
): string {
  const boundValue = (c: string) => (bound.row[c] ?? null) as Value;
  const equal = (c: string) => `${alias}.${ident(c)} IS ${b.bind(boundValue(c))}`;
  const after = (c: string, dir: 'asc' | 'desc') => {
    columnOf(table, c);
    const col = `${alias}.${ident(c)}`;
    return dir === 'asc'
      ? `(${col} IS NOT NULL AND (${b.bind(boundValue(c))} IS NULL OR ${col} > ${b.bind(boundValue(c))}))`
      : `(${b.bind(boundValue(c))} IS NOT NULL AND (${col} IS NULL OR ${col} < ${b.bind(boundValue(c))}))`;
  };
  const alternatives: string[] = [];
  for (let i = 0; i < ordering.length; i++) {
    const prefix = ordering.slice(0, i).map(([c]) => equal(c));
    const [c, dir] = ordering[i]!;
    alternatives.push(`(${[...prefix, after(c, dir)].join(' AND ')})`);
  }
  if (!bound.exclusive) alternatives.push(`(${ordering.map(([c]) => equal(c)).join(' AND ')})`);
  return `(${alternatives.join(' OR ')})`;
}
