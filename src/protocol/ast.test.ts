import {describe, expect, test} from 'vitest';
import {ASTParseError, parseAST, type AST} from './ast.js';

const idIs = (value: unknown) => ({
  type: 'simple',
  left: {type: 'column', name: 'id'},
  right: {type: 'literal', value},
  op: '=',
});

/** Shaped like what the 0.25.9 client builds (key order included) for a realistic query. */
function clientAST(): Record<string, unknown> {
  return {
    table: 'issue',
    where: {
      type: 'and',
      conditions: [
        {
          type: 'simple',
          left: {type: 'column', name: 'open'},
          right: {type: 'literal', value: true},
          op: '=',
        },
        {
          type: 'correlatedSubquery',
          related: {
            system: 'client',
            correlation: {parentField: ['id'], childField: ['issueID']},
            subquery: {
              table: 'issueLabel',
              alias: 'zsubq_labels',
              where: {
                type: 'correlatedSubquery',
                related: {
                  system: 'client',
                  correlation: {parentField: ['labelID'], childField: ['id']},
                  subquery: {table: 'label', alias: 'zsubq_zhidden_labels', where: idIs('bug')},
                },
                op: 'EXISTS',
              },
            },
          },
          op: 'EXISTS',
          flip: false,
        },
        {
          type: 'simple',
          left: {type: 'column', name: 'id'},
          right: {type: 'literal', value: ['a', 'b']},
          op: 'IN',
        },
      ],
    },
    related: [
      {
        system: 'client',
        correlation: {parentField: ['id'], childField: ['issueID']},
        subquery: {table: 'comment', alias: 'comments', orderBy: [['created', 'desc']], limit: 3},
      },
      {
        system: 'client',
        correlation: {parentField: ['id'], childField: ['issueID']},
        hidden: true,
        subquery: {
          table: 'issueLabel',
          alias: 'labels',
          related: [
            {
              system: 'client',
              correlation: {parentField: ['labelID'], childField: ['id']},
              subquery: {table: 'label', alias: 'labels'},
            },
          ],
        },
      },
    ],
    start: {row: {id: 'i1', created: 5, meta: {tags: ['x'], n: null}}, exclusive: true},
    orderBy: [['created', 'desc']],
    limit: 50,
  };
}

/** Parses and returns the error (failing the test if parsing succeeds). */
function parseError(json: unknown): ASTParseError {
  try {
    parseAST(json);
  } catch (e) {
    expect(e).toBeInstanceOf(ASTParseError);
    return e as ASTParseError;
  }
  throw new Error('expected parseAST to throw');
}

describe('parseAST accepts', () => {
  test('a realistic client AST, unchanged', () => {
    const json = clientAST();
    const ast: AST = parseAST(json);
    expect(ast).toEqual(json);
    expect(JSON.stringify(ast)).toBe(JSON.stringify(json));
  });

  test('a minimal AST, internal schema, permissions statics and NOT EXISTS', () => {
    expect(parseAST({table: 't'})).toEqual({table: 't'});
    const withStatic = {
      schema: '',
      table: 't',
      where: {
        type: 'or',
        conditions: [
          {
            type: 'simple',
            op: 'IN',
            left: {type: 'column', name: 'role'},
            right: {type: 'static', anchor: 'authData', field: ['roles']},
          },
          {
            type: 'simple',
            op: 'IS NOT',
            left: {type: 'static', anchor: 'preMutationRow', field: 'ownerID'},
            right: {type: 'literal', value: null},
          },
          {
            type: 'correlatedSubquery',
            op: 'NOT EXISTS',
            related: {
              system: 'permissions',
              correlation: {parentField: ['a', 'b'], childField: ['c', 'd']},
              subquery: {table: 'u', alias: 'zsubq_u', limit: 0},
            },
          },
        ],
      },
    };
    expect(parseAST(withStatic)).toEqual(withStatic);
  });
});

describe('parseAST rejects, naming the path', () => {
  test('unknown key at the root', () => {
    const e = parseError({...clientAST(), select: ['id']});
    expect(e.path).toBe('ast');
    expect(e.message).toMatch(/^Invalid AST at ast: unknown key "select"/);
  });

  test('unknown key in a nested subquery and in a condition', () => {
    const json = clientAST() as {related: {subquery: Record<string, unknown>}[]};
    json.related[0]!.subquery['extra'] = 1;
    expect(parseError(json).message).toMatch(/at ast\.related\[0\]\.subquery: unknown key "extra"/);

    const cond = clientAST() as {where: {conditions: Record<string, unknown>[]}};
    cond.where.conditions[1]!['planId'] = 3;
    expect(parseError(cond).message).toMatch(
      /at ast\.where\.conditions\[1\]: unknown key "planId"/,
    );
  });

  test('a bad operator', () => {
    const e = parseError({table: 't', where: {...idIs('x'), op: '=='}});
    expect(e.path).toBe('ast.where.op');
    expect(e.message).toContain('expected one of "=", "!=", "IS", "IS NOT"');
    expect(e.message).toContain('but got "=="');
  });

  test('IN without an array, and an array without IN', () => {
    const notArray = parseError({table: 't', where: {...idIs('x'), op: 'IN'}});
    expect(notArray.path).toBe('ast.where.right.value');
    expect(notArray.message).toContain('operator IN needs an array literal on the right');

    const arrayWithEq = parseError({table: 't', where: idIs(['x'])});
    expect(arrayWithEq.path).toBe('ast.where.right.value');
    expect(arrayWithEq.message).toContain('only allowed with IN / NOT IN, not with =');
  });

  test('a subquery without alias (related and EXISTS)', () => {
    const json = clientAST() as {related: {subquery: Record<string, unknown>}[]};
    delete json.related[1]!.subquery['alias'];
    const e = parseError(json);
    expect(e.path).toBe('ast.related[1].subquery.alias');
    expect(e.message).toContain('a subquery needs an alias');

    const exists = {
      table: 't',
      where: {
        type: 'correlatedSubquery',
        op: 'EXISTS',
        related: {correlation: {parentField: ['id'], childField: ['tID']}, subquery: {table: 'u'}},
      },
    };
    expect(parseError(exists).path).toBe('ast.where.related.subquery.alias');
  });

  test('a negative or fractional limit', () => {
    const negative = parseError({table: 't', limit: -1});
    expect(negative.path).toBe('ast.limit');
    expect(negative.message).toBe(
      'Invalid AST at ast.limit: expected a non-negative integer; got -1',
    );
    expect(parseError({table: 't', limit: 1.5}).path).toBe('ast.limit');
    const nested = clientAST() as {related: {subquery: Record<string, unknown>}[]};
    nested.related[0]!.subquery['limit'] = -3;
    expect(parseError(nested).path).toBe('ast.related[0].subquery.limit');
  });

  test('mismatched or empty correlation fields', () => {
    const json = clientAST() as {related: {correlation: Record<string, unknown>}[]};
    json.related[0]!.correlation['parentField'] = ['id', 'x'];
    const e = parseError(json);
    expect(e.path).toBe('ast.related[0].correlation');
    expect(e.message).toContain('parentField has 2 column(s) but childField has 1');

    json.related[0]!.correlation['parentField'] = [];
    expect(parseError(json).path).toBe('ast.related[0].correlation.parentField');
  });

  test('bad orderBy entries and wrong types', () => {
    expect(parseError({table: 't', orderBy: [['id', 'up']]}).path).toBe('ast.orderBy[0][1]');
    expect(parseError({table: 't', orderBy: [['id']]}).path).toBe('ast.orderBy[0]');
    const noTable = parseError({alias: 'a'});
    expect(noTable.path).toBe('ast.table');
    expect(noTable.message).toContain('missing required property');
    expect(parseError({table: 7}).message).toBe(
      'Invalid AST at ast.table: expected string but got 7',
    );
    expect(parseError(null).message).toBe('Invalid AST at ast: expected object but got null');
    const badSystem = clientAST() as {related: Record<string, unknown>[]};
    badSystem.related[0]!['system'] = 'server';
    expect(parseError(badSystem).path).toBe('ast.related[0].system');
  });

  test('literal lists of non-scalars and bad start rows', () => {
    const nested = {table: 't', where: {...idIs([['a']]), op: 'IN'}};
    expect(parseError(nested).path).toMatch(/^ast\.where\.right\.value/);
    const badStart = parseError({table: 't', start: {row: {id: 'x'}}});
    expect(badStart.path).toBe('ast.start.exclusive');
  });
});
