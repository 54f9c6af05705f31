import {describe, expect, test} from 'vitest';
import type {AST, Condition, CorrelatedSubquery} from './ast.js';
import {
  childSubqueries,
  conditionSubqueries,
  forEachASTNode,
  mapASTNodes,
  mapASTTables,
  tablesOf,
} from './ast-walk.js';

const sub = (table: string, extra: Partial<AST> = {}): CorrelatedSubquery => ({
  correlation: {parentField: ['id'], childField: ['pid']},
  subquery: {table, alias: table, ...extra},
});
const exists = (table: string, extra: Partial<AST> = {}): Condition => ({
  type: 'correlatedSubquery',
  op: 'EXISTS',
  related: sub(table, extra),
});
const simple: Condition = {
  type: 'simple',
  op: '=',
  left: {type: 'column', name: 'x'},
  right: {type: 'literal', value: 1},
};

/** issue → comments → author, plus where: simple AND (EXISTS label(EXISTS color) OR EXISTS owner). */
const ast: AST = {
  table: 'issue',
  where: {
    type: 'and',
    conditions: [
      simple,
      {type: 'or', conditions: [exists('label', {where: exists('color')}), exists('owner')]},
    ],
  },
  related: [sub('comment', {related: [sub('user')]})],
};

describe('ast-walk', () => {
  test('tablesOf lists every table at any depth', () => {
    expect([...tablesOf(ast)].sort()).toEqual([
      'color',
      'comment',
      'issue',
      'label',
      'owner',
      'user',
    ]);
  });

  test("conditionSubqueries finds the tree's own EXISTS conditions, in order", () => {
    const found = conditionSubqueries(ast.where!);
    expect(found.map((c) => c.related.subquery.table)).toEqual(['label', 'owner']);
    expect(conditionSubqueries(simple)).toEqual([]);
  });

  test('childSubqueries lists related then EXISTS subqueries', () => {
    expect(childSubqueries(ast).map((r) => r.subquery.table)).toEqual([
      'comment',
      'label',
      'owner',
    ]);
  });

  test('forEachASTNode visits parents before children', () => {
    const seen: string[] = [];
    forEachASTNode(ast, (node) => seen.push(node.table));
    expect(seen).toEqual(['issue', 'label', 'color', 'owner', 'comment', 'user']);
  });

  test('mapASTTables renames every table and leaves the input alone', () => {
    const before = JSON.stringify(ast);
    const renamed = mapASTTables(ast, (table) => `srv_${table}`);
    expect([...tablesOf(renamed)].sort()).toEqual(
      ['color', 'comment', 'issue', 'label', 'owner', 'user'].map((t) => `srv_${t}`),
    );
    expect(JSON.stringify(ast)).toBe(before);
    // Only `table` changed: aliases, conditions and key order are kept.
    expect(JSON.stringify(renamed)).toBe(before.replace(/"table":"(\w+)"/g, '"table":"srv_$1"'));
  });

  test('mapASTNodes maps children before their parent', () => {
    const order: string[] = [];
    const limited = mapASTNodes(ast, (node) => {
      order.push(node.table);
      return {...node, limit: 1};
    });
    expect(order).toEqual(['color', 'label', 'owner', 'user', 'comment', 'issue']);
    const limits: (number | undefined)[] = [];
    forEachASTNode(limited, (node) => limits.push(node.limit));
    expect(limits).toEqual([1, 1, 1, 1, 1, 1]);
  });
});
