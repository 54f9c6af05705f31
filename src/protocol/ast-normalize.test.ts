import fc from 'fast-check';
import {describe, expect, test} from 'vitest';
import type {AST, Condition, CorrelatedSubquery} from './ast.js';
import {compareUTF8} from '../shared/compare-utf8.js';
import {completeOrdering, normalizeAST} from './ast-normalize.js';

/** A simple condition with the client's key order (type, left, right, op). */
const cmp = (
  column: string,
  op: '=' | '<' | 'IN',
  value: string | number | string[],
): Condition => ({
  type: 'simple',
  left: {type: 'column', name: column},
  right: {type: 'literal', value},
  op,
});
const and = (...conditions: Condition[]): Condition => ({type: 'and', conditions});
const or = (...conditions: Condition[]): Condition => ({type: 'or', conditions});
const rel = (alias: string, table = alias, extra: Partial<AST> = {}): CorrelatedSubquery => ({
  system: 'client',
  correlation: {parentField: ['id'], childField: [`${table}ID`]},
  subquery: {table, alias, ...extra},
});
const exists = (alias: string, op: 'EXISTS' | 'NOT EXISTS' = 'EXISTS'): Condition => ({
  type: 'correlatedSubquery',
  related: rel(alias),
  op,
});
const json = (x: unknown) => JSON.stringify(x);
const whereOf = (where: Condition) => normalizeAST({table: 't', where}).where;

describe('normalizeAST', () => {
  test('orders keys schema, table, alias, where, related, start, limit, orderBy', () => {
    const ast: AST = {
      orderBy: [['id', 'asc']],
      limit: 5,
      start: {exclusive: false, row: {id: 'a'}},
      related: [rel('c')],
      where: cmp('id', '=', 'x'),
      alias: 'q',
      table: 't',
      schema: 's',
    };
    const normalized = normalizeAST(ast);
    expect(Object.keys(normalized)).toEqual([
      'schema',
      'table',
      'alias',
      'where',
      'related',
      'start',
      'limit',
      'orderBy',
    ]);
    // start keeps the producer's key order; absent keys do not appear at all.
    expect(json(normalized.start)).toBe('{"exclusive":false,"row":{"id":"a"}}');
    expect(json(normalizeAST({limit: 1, table: 't'}))).toBe('{"table":"t","limit":1}');
  });

  test('sorts related by alias in UTF-8 order and rewrites their key order', () => {
    const ast: AST = {
      table: 't',
      related: [
        rel('b'),
        rel('\uff21'),
        rel('B'),
        rel('😀'),
        rel('a', 'x', {related: [rel('z'), rel('y')]}),
      ],
    };
    const normalized = normalizeAST(ast);
    expect(normalized.related!.map((r) => r.subquery.alias)).toEqual([
      'B',
      'a',
      'b',
      '\uff21',
      '😀',
    ]);
    expect(normalized.related![1]!.subquery.related!.map((r) => r.subquery.alias)).toEqual([
      'y',
      'z',
    ]);
    expect(json(normalized.related![0])).toBe(
      '{"correlation":{"parentField":["id"],"childField":["BID"]},' +
        '"subquery":{"table":"B","alias":"B"},"system":"client"}',
    );
    const hidden = normalizeAST({table: 't', related: [{...rel('h'), hidden: true}]});
    expect(Object.keys(hidden.related![0]!)).toEqual([
      'correlation',
      'hidden',
      'subquery',
      'system',
    ]);
  });

  test('flattens same-type nesting one level per step, unwraps singletons, drops empties', () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((col) => cmp(col, '=', 1)) as [
      Condition,
      Condition,
      Condition,
      Condition,
    ];
    expect(json(whereOf(and(and(a, b), c)))).toBe(json(and(a, b, c)));
    expect(json(whereOf(or(b, or(a))))).toBe(json(or(a, b)));
    expect(json(whereOf(and(a)))).toBe(json(a));
    expect(whereOf(and())).toBeUndefined();
    expect(whereOf(or(and(), or()))).toBeUndefined();
    // An empty group is dropped even where it changes the meaning (or() is false): hash only.
    expect(json(whereOf(and(or(), a)))).toBe(json(a));
    // A singleton of the other type is unwrapped into the parent's list, but not merged into it.
    expect(json(whereOf(and(or(and(a, b)), c)))).toBe(json(and(c, and(a, b))));
    // Only one level of same-type nesting is merged per step (as the reference does).
    expect(json(whereOf(and(and(and(a, b), c), d)))).toBe(json(and(c, d, and(a, b))));
  });

  test('sorts conditions: simple (left, op, right), then EXISTS (alias, op), then groups', () => {
    const where = and(
      or(cmp('z', '=', 1), cmp('y', '=', 1)),
      exists('m', 'NOT EXISTS'),
      and(cmp('q', '=', 1)),
      cmp('b', '=', 2),
      exists('m'),
      cmp('b', '=', 10),
      cmp('a', '<', 5),
      cmp('a', '=', 5),
      exists('k'),
      or(cmp('y', '=', 1)),
    );
    expect(conditionsOf(whereOf(where)).map(describe_)).toEqual([
      'a < 5',
      'a = 5',
      'b = 10', // literals compare as strings: '10' < '2'
      'b = 2',
      'q = 1',
      'y = 1',
      'EXISTS k',
      'EXISTS m',
      'NOT EXISTS m',
      'or(y = 1, z = 1)',
    ]);
  });

  test('orders groups by type, then element-wise, shorter prefix first', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((col) => cmp(col, '=', 1)) as [
      Condition,
      Condition,
      Condition,
    ];
    const sorted = conditionsOf(whereOf(or(and(a, c), and(a, b, c), and(a, b), and(b))));
    expect(sorted.map(describe_)).toEqual([
      'b = 1', // and(b) was unwrapped: a simple condition now
      'and(a = 1, b = 1)',
      'and(a = 1, b = 1, c = 1)',
      'and(a = 1, c = 1)',
    ]);
  });

  test('keeps the producer key order of simple and EXISTS conditions; normalizes their subqueries', () => {
    const producerOrder: Condition = {
      op: '=',
      type: 'simple',
      right: {value: 1, type: 'literal'},
      left: {name: 'a', type: 'column'},
    };
    expect(json(whereOf(producerOrder))).toBe(json(producerOrder));
    const existsCond: Condition = {
      type: 'correlatedSubquery',
      related: {
        system: 'client',
        correlation: {childField: ['c'], parentField: ['p']},
        subquery: {limit: 3, alias: 's', table: 'u'},
      },
      op: 'EXISTS',
    };
    expect(json(whereOf(existsCond))).toBe(
      '{"type":"correlatedSubquery","related":{"system":"client",' +
        '"correlation":{"parentField":["p"],"childField":["c"]},' +
        '"subquery":{"table":"u","alias":"s","limit":3}},"op":"EXISTS"}',
    );
  });

  test('does not modify its input', () => {
    const ast: AST = {
      table: 't',
      where: and(cmp('b', '=', 1), cmp('a', '=', 1)),
      related: [rel('b'), rel('a')],
    };
    const before = json(ast);
    normalizeAST(ast);
    expect(json(ast)).toBe(before);
  });
});

describe('completeOrdering', () => {
  const primaryKeys: Record<string, string[]> = {t: ['id'], u: ['a', 'b'], v: ['id']};
  const pk = (table: string) => primaryKeys[table]!;

  test('appends missing primary-key columns asc, at the root', () => {
    expect(completeOrdering({table: 't'}, pk)).toEqual({table: 't', orderBy: [['id', 'asc']]});
    const partial = completeOrdering(
      {
        table: 'u',
        orderBy: [
          ['b', 'desc'],
          ['x', 'asc'],
        ],
      },
      pk,
    );
    expect(partial.orderBy).toEqual([
      ['b', 'desc'],
      ['x', 'asc'],
      ['a', 'asc'],
    ]);
    const complete: AST = {table: 't', orderBy: [['id', 'desc']]};
    expect(completeOrdering(complete, pk).orderBy).toBe(complete.orderBy);
  });

  test('keeps key order; a new orderBy goes last', () => {
    const out = completeOrdering({table: 't', limit: 3, alias: 'x'}, pk);
    expect(Object.keys(out)).toEqual(['table', 'limit', 'alias', 'orderBy']);
  });

  test('completes related and EXISTS subqueries at any depth', () => {
    const existsU: Condition = {
      type: 'correlatedSubquery',
      op: 'EXISTS',
      related: {
        correlation: {parentField: ['id'], childField: ['tID']},
        subquery: {table: 'u', alias: 'zsubq_u', where: exists('v')},
      },
    };
    const ast: AST = {
      table: 't',
      where: and(cmp('x', '=', 1), or(existsU)),
      related: [rel('v', 'v', {related: [rel('u', 'u', {orderBy: [['b', 'asc']]})]})],
    };
    const out = completeOrdering(ast, pk);
    expect(out.related![0]!.subquery.orderBy).toEqual([['id', 'asc']]);
    expect(out.related![0]!.subquery.related![0]!.subquery.orderBy).toEqual([
      ['b', 'asc'],
      ['a', 'asc'],
    ]);
    const existsOut = conditionsOf(conditionsOf(out.where)[1])[0] as {related: CorrelatedSubquery};
    expect(existsOut.related.subquery.orderBy).toEqual([
      ['a', 'asc'],
      ['b', 'asc'],
    ]);
    const inner = existsOut.related.subquery.where as {related: CorrelatedSubquery};
    expect(inner.related.subquery.orderBy).toEqual([['id', 'asc']]);
    expect(ast.related![0]!.subquery.orderBy).toBeUndefined(); // input untouched
  });

  test('throws, naming the table, when no primary key is known', () => {
    expect(() => completeOrdering({table: 'nope'}, pk)).toThrow(
      /no primary key known for table "nope"/,
    );
  });
});

describe('compareUTF8', () => {
  test('orders by code point, not UTF-16 unit', () => {
    expect(compareUTF8('a', 'b')).toBeLessThan(0);
    expect(compareUTF8('', 'a')).toBeLessThan(0);
    expect(compareUTF8('Z', 'a')).toBeLessThan(0);
    expect(compareUTF8('ab', 'ab')).toBe(0);
    expect(compareUTF8('\ufffd', '😀')).toBeLessThan(0); // JS '<' says the opposite
  });

  test('agrees with comparing UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({unit: 'grapheme'}), fc.string({unit: 'grapheme'}), (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect(Math.sign(compareUTF8(a, b))).toBe(bytes);
      }),
    );
  });
});

/** The conditions of an and/or (fails the test for anything else). */
function conditionsOf(cond: Condition | undefined): readonly Condition[] {
  if (cond?.type !== 'and' && cond?.type !== 'or') {
    throw new Error(`expected an and/or condition, got ${JSON.stringify(cond)}`);
  }
  return cond.conditions;
}

/** A short text form of a condition, for readable expectations. */
function describe_(cond: Condition): string {
  switch (cond.type) {
    case 'simple':
      return `${(cond.left as {name: string}).name} ${cond.op} ${String((cond.right as {value: unknown}).value)}`;
    case 'correlatedSubquery':
      return `${cond.op} ${cond.related.subquery.alias}`;
    default:
      return `${cond.type}(${cond.conditions.map(describe_).join(', ')})`;
  }
}
