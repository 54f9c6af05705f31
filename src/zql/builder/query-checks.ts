import type {AST, Condition, LiteralValue, SimpleCondition} from '../../protocol/ast.js';
import type {ZqlValueType} from '../../replica/column-types.js';

/**
 * Checks a client's query against the replica's tables before it is built: every table and
 * column it names exists, every literal and `start` value has its column's type, LIKE compares a
 * string column with a string. A query that fails is refused whole, as that query's error.
 *
 * Why before building: the engine would otherwise meet the mismatch while evaluating rows, where
 * any error it raised could quote a row the client may not read (a permission filter runs on the
 * same rows). The messages here name tables, columns and types only — never a value.
 */
export class QueryRefusedError extends Error {
  override readonly name = 'QueryRefusedError';
}

export interface ColumnTypes {
  /** Column → value type of a replica table; throws when the table is not in the replica. */
  columnsOf(table: string): ReadonlyMap<string, ZqlValueType>;
}

const LIKE_OPS = new Set(['LIKE', 'NOT LIKE', 'ILIKE', 'NOT ILIKE']);

export function checkQueryTypes(ast: AST, tables: ColumnTypes): void {
  const columns = tables.columnsOf(ast.table);
  const column = (name: string, where: string): ZqlValueType | undefined => {
    if (!columns.has(name))
      throw new QueryRefusedError(
        `${where} names column ${ast.table}.${name}, which is not synced`,
      );
    return columns.get(name);
  };
  for (const [col] of ast.orderBy ?? []) column(col, 'orderBy');
  for (const [col, value] of Object.entries(ast.start?.row ?? {})) {
    // Unknown columns in `start` are never compared; only known ones must be typed right.
    if (columns.has(col) && !fitsType(value, columns.get(col)!))
      throw new QueryRefusedError(
        `start gives ${ast.table}.${col} (${columns.get(col)}) a value of type ${typeName(value)}`,
      );
  }
  if (ast.where) checkCondition(ast.where, ast, column, tables);
  for (const r of ast.related ?? []) {
    for (const f of r.correlation.parentField) column(f, 'a relationship');
    checkQueryTypes(r.subquery, tables);
    const child = tables.columnsOf(r.subquery.table);
    for (const f of r.correlation.childField) checkChildField(child, r.subquery.table, f);
  }
}

function checkCondition(
  c: Condition,
  ast: AST,
  column: (name: string, where: string) => ZqlValueType | undefined,
  tables: ColumnTypes,
): void {
  switch (c.type) {
    case 'and':
    case 'or':
      for (const sub of c.conditions) checkCondition(sub, ast, column, tables);
      return;
    case 'correlatedSubquery': {
      const {correlation, subquery} = c.related;
      for (const f of correlation.parentField) column(f, 'an EXISTS condition');
      checkQueryTypes(subquery, tables);
      const child = tables.columnsOf(subquery.table);
      for (const f of correlation.childField) checkChildField(child, subquery.table, f);
      return;
    }
    case 'simple':
      return checkSimple(c, ast.table, column);
  }
}

function checkSimple(
  c: SimpleCondition,
  table: string,
  column: (name: string, where: string) => ZqlValueType | undefined,
): void {
  if (c.left.type !== 'column') {
    throw new QueryRefusedError(`a condition on ${table} must have a column on its left side`);
  }
  const type = column(c.left.name, 'a condition')!;
  if (c.right.type !== 'literal') return; // static parameters are bound by the server
  const right: LiteralValue = c.right.value;
  const where = `${c.op} on ${table}.${c.left.name} (${type})`;
  if (LIKE_OPS.has(c.op)) {
    if (type !== 'string' && type !== 'json')
      throw new QueryRefusedError(`${where}: ${c.op} needs a string column`);
    if (right !== null && typeof right !== 'string')
      throw new QueryRefusedError(`${where}: the pattern is a ${typeName(right)}, not a string`);
    return;
  }
  const values = Array.isArray(right) ? right : [right];
  for (const v of values) {
    if (!fitsType(v, type))
      throw new QueryRefusedError(`${where}: compared with a value of type ${typeName(v)}`);
  }
}

function checkChildField(
  columns: ReadonlyMap<string, ZqlValueType>,
  table: string,
  field: string,
): void {
  if (!columns.has(field))
    throw new QueryRefusedError(
      `a relationship names column ${table}.${field}, which is not synced`,
    );
}

function fitsType(value: unknown, type: ZqlValueType): boolean {
  if (value === null || value === undefined || type === 'json') return true;
  return typeof value === type;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
