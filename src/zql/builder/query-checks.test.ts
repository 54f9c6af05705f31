import {describe, expect, test} from 'vitest';
import type {AST, Condition} from '../../protocol/ast.js';
import type {ZqlValueType} from '../../replica/column-types.js';
import {checkQueryTypes, QueryRefusedError, type ColumnTypes} from './query-checks.js';

const TABLES: Record<string, Record<string, ZqlValueType>> = {
  loan: {id: 'string', amount: 'number', paid: 'boolean', meta: 'json', userID: 'string'},
  user: {id: 'string', name: 'string'},
};
const tables: ColumnTypes = {
  columnsOf(table) {
    const cols = TABLES[table];
    if (!cols) throw new Error(`zql: table "${table}" is not in the replica`);
    return new Map(Object.entries(cols));
  },
};

const cmp = (column: string, op: string, value: unknown): Condition =>
  ({
    type: 'simple',
    op,
    left: {type: 'column', name: column},
    right: {type: 'literal', value},
  }) as Condition;

const refusal = (ast: AST): string => {
  try {
    checkQueryTypes(ast, tables);
  } catch (e) {
    expect(e).toBeInstanceOf(QueryRefusedError);
    return (e as Error).message;
  }
  throw new Error('the query was accepted');
};

describe('literals are checked against their column types', () => {
  test('a literal of the column type, or null, is accepted', () => {
    const where: Condition = {
      type: 'and',
      conditions: [
        cmp('amount', '<', 5),
        cmp('id', '=', 'x'),
        cmp('paid', '=', true),
        cmp('amount', 'IS', null),
        cmp('amount', 'IN', [1, 2]),
        cmp('id', 'LIKE', 'a%'),
      ],
    };
    expect(() => checkQueryTypes({table: 'loan', where}, tables)).not.toThrow();
  });

  test('a string compared with a number column is refused, naming column and types only', () => {
    const message = refusal({table: 'loan', where: cmp('amount', '<', 'x')});
    expect(message).toBe('< on loan.amount (number): compared with a value of type string');
  });

  test('an IN list with a value of another type is refused', () => {
    expect(refusal({table: 'loan', where: cmp('amount', 'IN', [1, 'two'])})).toMatch(
      /IN on loan\.amount \(number\): compared with a value of type string/,
    );
  });

  test('LIKE on a number column is refused', () => {
    expect(refusal({table: 'loan', where: cmp('amount', 'LIKE', 'x')})).toMatch(
      /LIKE needs a string column/,
    );
  });

  test('a json column accepts a literal of any type', () => {
    expect(() =>
      checkQueryTypes({table: 'loan', where: cmp('meta', '=', 3)}, tables),
    ).not.toThrow();
  });

  test('conditions inside or, and EXISTS subqueries are checked too', () => {
    const exists: Condition = {
      type: 'correlatedSubquery',
      op: 'EXISTS',
      related: {
        correlation: {parentField: ['userID'], childField: ['id']},
        subquery: {table: 'user', alias: 'u', where: cmp('name', '>', 7)},
      },
    };
    const where: Condition = {type: 'or', conditions: [cmp('id', '=', 'a'), exists]};
    expect(refusal({table: 'loan', where})).toMatch(/user\.name \(string\)/);
  });
});

describe('start rows', () => {
  test('a start value of the wrong type is refused', () => {
    const ast: AST = {table: 'loan', start: {row: {id: 'b1', amount: 'x'}, exclusive: true}};
    expect(refusal(ast)).toBe('start gives loan.amount (number) a value of type string');
  });

  test('start values of the right types are accepted', () => {
    const ast: AST = {table: 'loan', start: {row: {id: 'b1', amount: 3}, exclusive: false}};
    expect(() => checkQueryTypes(ast, tables)).not.toThrow();
  });
});

describe('names', () => {
  test('an unknown column in a condition, an ordering or a relationship is refused', () => {
    expect(refusal({table: 'loan', where: cmp('secret', '=', 1)})).toMatch(/loan\.secret/);
    expect(refusal({table: 'loan', orderBy: [['nope', 'asc']]})).toMatch(/loan\.nope/);
    const related: AST = {
      table: 'loan',
      related: [
        {
          correlation: {parentField: ['userID'], childField: ['missing']},
          subquery: {table: 'user', alias: 'u'},
        },
      ],
    };
    expect(refusal(related)).toMatch(/user\.missing/);
  });

  test('an unknown table is refused with the replica error', () => {
    expect(() => checkQueryTypes({table: 'nope'}, tables)).toThrow(/not in the replica/);
  });
});
