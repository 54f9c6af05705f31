import type {AST, Condition, LiteralValue, SimpleOperator} from '../../src/protocol/ast.js';
import type {ColumnType, FuzzSchema, FuzzTable, Row, TableData} from './fuzz-schema.js';
import {FuzzReplica} from './fuzz-replica.js';
import {evaluateQuery, type QueryResult} from './sql-oracle.js';

/**
 * Small builders for hand-written oracle cases: tables from a compact spec, conditions, and a
 * one-shot evaluation over a fresh replica.
 */

/** `table('issue', 'id int, title text?, open bool?')`: `?` = nullable; key = `pk` (default id). */
export function table(name: string, spec: string, primaryKey = ['id']): FuzzTable {
  const columns = spec.split(',').map((part) => {
    const [colName, rawType] = part.trim().split(/\s+/) as [string, string];
    const nullable = rawType.endsWith('?');
    return {name: colName, type: rawType.replace('?', '') as ColumnType, nullable};
  });
  return {name, columns, primaryKey};
}

export function cmp(column: string, op: SimpleOperator, value: LiteralValue): Condition {
  return {
    type: 'simple',
    op,
    left: {type: 'column', name: column},
    right: {type: 'literal', value},
  };
}

export function and(...conditions: Condition[]): Condition {
  return {type: 'and', conditions};
}

export function or(...conditions: Condition[]): Condition {
  return {type: 'or', conditions};
}

export function exists(
  op: 'EXISTS' | 'NOT EXISTS',
  parentField: string,
  childField: string,
  subquery: AST,
): Condition {
  return {
    type: 'correlatedSubquery',
    op,
    related: {correlation: {parentField: [parentField], childField: [childField]}, subquery},
  };
}

export function evaluateOnce(schema: FuzzSchema, data: TableData, ast: AST): QueryResult {
  const replica = new FuzzReplica(schema);
  try {
    replica.load(data);
    return evaluateQuery(replica.db, schema, ast);
  } finally {
    replica.close();
  }
}

/** The values of `column` of the root rows, in order. */
export function rootValues(result: QueryResult, column = 'id'): unknown[] {
  return result.view.map((n) => n.row[column]);
}

export function syncedKeys(result: QueryResult): string[] {
  return [...result.synced.keys()].sort();
}

export function rows(columns: string, ...values: unknown[][]): Row[] {
  const names = columns.split(',').map((c) => c.trim());
  return values.map((v) => Object.fromEntries(names.map((n, i) => [n, v[i] ?? null])) as Row);
}
