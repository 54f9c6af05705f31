import {describe, expect, test} from 'vitest';
import type {AST, Condition} from './ast.js';
import {astLimitProblem, type AstLimits} from './ast-limits.js';

const LIMITS: AstLimits = {maxDepth: 5, maxNodes: 20, maxInListLength: 3};
const leaf: Condition = {
  type: 'simple',
  op: '=',
  left: {type: 'column', name: 'id'},
  right: {type: 'literal', value: 1},
};

function nested(levels: number): Condition {
  let c = leaf;
  for (let i = 0; i < levels; i++) c = {type: 'and', conditions: [c]};
  return c;
}

describe('astLimitProblem', () => {
  test('a query within every limit has no problem', () => {
    expect(astLimitProblem({table: 't', where: nested(3)}, LIMITS)).toBeNull();
  });

  test('conditions nested deeper than the limit are a problem', () => {
    expect(astLimitProblem({table: 't', where: nested(5)}, LIMITS)).toMatch(
      /deeper than 5 levels \(ZCACHE_MAX_AST_DEPTH\)/,
    );
  });

  test('subqueries nested deeper than the limit are a problem', () => {
    let ast: AST = {table: 't'};
    for (let i = 0; i < 5; i++)
      ast = {
        table: 't',
        related: [
          {correlation: {parentField: ['id'], childField: ['id']}, subquery: {...ast, alias: 'a'}},
        ],
      };
    expect(astLimitProblem(ast, LIMITS)).toMatch(/ZCACHE_MAX_AST_DEPTH/);
  });

  test('too many subqueries side by side are a problem', () => {
    const related = Array.from({length: 20}, (_, i) => ({
      correlation: {parentField: ['id'], childField: ['id']} as const,
      subquery: {table: 't', alias: `r${i}`},
    }));
    expect(astLimitProblem({table: 't', related}, LIMITS)).toMatch(
      /more than 20 conditions and subqueries \(ZCACHE_MAX_AST_NODES\)/,
    );
  });

  test('an IN list longer than the limit is a problem; one at the limit is not', () => {
    const inList = (n: number): AST => ({
      table: 't',
      where: {
        ...leaf,
        op: 'IN',
        right: {type: 'literal', value: Array.from({length: n}, (_, i) => i)},
      },
    });
    expect(astLimitProblem(inList(3), LIMITS)).toBeNull();
    expect(astLimitProblem(inList(4), LIMITS)).toMatch(
      /more than 3 values \(ZCACHE_MAX_IN_LIST_LENGTH\)/,
    );
  });
});
