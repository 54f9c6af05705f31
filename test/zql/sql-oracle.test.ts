import {describe, expect, test} from 'vitest';
import type {AST, Condition} from '../../src/protocol/ast.js';
import type {FuzzSchema} from './fuzz-schema.js';
import {likeMatches} from './like-matcher.js';
import {and, cmp, evaluateOnce, or, rootValues, rows, table} from './oracle-fixtures.js';

/**
 * Oracle self-tests, part 1: filters (NULLs, IS, IN, LIKE/ILIKE), ordering and `start`. Each
 * expectation is worked out by hand from the fact sheet §8.6.
 */
const item = table('item', 'id int, s text?, n int?, b bool?, r real?');
const items = rows(
  'id, s, n, b, r',
  [1, 'a', 1, true, 0.5],
  [2, 'A', 2, false, null],
  [3, null, null, null, 2],
  [4, 'ab', 2, true, -1.5],
  [5, 'é', 0, false, 1],
  [6, '😀', 1, null, null],
);
const itemSchema: FuzzSchema = {tables: [item]};

function itemIds(where: Condition, extra: Partial<AST> = {}): unknown[] {
  return rootValues(evaluateOnce(itemSchema, {item: items}, {table: 'item', where, ...extra}));
}

describe('oracle: comparisons and NULL', () => {
  test.each([
    ['n = null', cmp('n', '=', null), []],
    ['s != null', cmp('s', '!=', null), []],
    ['n < null', cmp('n', '<', null), []],
    ['s LIKE null', cmp('s', 'LIKE', null), []],
    ['n != 1 excludes NULL n', cmp('n', '!=', 1), [2, 4, 5]],
    ['n < 2', cmp('n', '<', 2), [1, 5, 6]],
    ['n >= 2', cmp('n', '>=', 2), [2, 4]],
    ['n <= 0', cmp('n', '<=', 0), [5]],
    ['r > 0 (real)', cmp('r', '>', 0), [1, 3, 5]],
    ['b = true', cmp('b', '=', true), [1, 4]],
    ['b != true excludes NULL b', cmp('b', '!=', true), [2, 5]],
    ['b < true', cmp('b', '<', true), [2, 5]],
    ['s > "a" is UTF-8 byte order', cmp('s', '>', 'a'), [4, 5, 6]],
  ] as const)('%s', (_name, where, expected) => {
    expect(itemIds(where)).toEqual(expected);
  });

  test.each([
    ['b IS null', cmp('b', 'IS', null), [3, 6]],
    ['n IS NOT null', cmp('n', 'IS NOT', null), [1, 2, 4, 5, 6]],
    ['s IS "A" is exact', cmp('s', 'IS', 'A'), [2]],
    ['b IS NOT true includes NULL', cmp('b', 'IS NOT', true), [2, 3, 5, 6]],
    ['r IS 2 matches the real 2', cmp('r', 'IS', 2), [3]],
  ] as const)('%s', (_name, where, expected) => {
    expect(itemIds(where)).toEqual(expected);
  });

  test.each([
    ['n IN [1, 2]', cmp('n', 'IN', [1, 2]), [1, 2, 4, 6]],
    ['n NOT IN [1] excludes NULL n', cmp('n', 'NOT IN', [1]), [2, 4, 5]],
    ['n IN [] matches nothing', cmp('n', 'IN', []), []],
    ['n NOT IN [] matches every non-NULL n', cmp('n', 'NOT IN', []), [1, 2, 4, 5, 6]],
    ['b IN [true]', cmp('b', 'IN', [true]), [1, 4]],
    ['b NOT IN [true]', cmp('b', 'NOT IN', [true]), [2, 5]],
    ['s IN ["a", "é"]', cmp('s', 'IN', ['a', 'é']), [1, 5]],
  ] as const)('%s', (_name, where, expected) => {
    expect(itemIds(where)).toEqual(expected);
  });

  test('empty and is true, empty or is false, nesting combines', () => {
    expect(itemIds(and())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(itemIds(or())).toEqual([]);
    expect(itemIds(or(cmp('n', '=', 0), and(cmp('b', '=', true), cmp('r', '<', 0))))).toEqual([
      4, 5,
    ]);
  });

  test('rows carry client values: booleans, reals, NULLs', () => {
    const result = evaluateOnce(itemSchema, {item: items}, {table: 'item', limit: 3});
    expect(result.view.map((n) => n.row)).toEqual(items.slice(0, 3));
  });
});

describe('oracle: LIKE and ILIKE (client semantics)', () => {
  const word = table('word', 'id int, s text?');
  const words = rows(
    'id, s',
    [1, 'aBc'],
    [2, 'abc'],
    [3, 'a%c'],
    [4, 'a_c'],
    [5, 'a\\c'],
    [6, 'É'],
    [7, 'é'],
    [8, '😀'],
    [9, 'x😀'],
    [10, ''],
    [11, null],
  );
  const wordIds = (where: Condition) =>
    rootValues(evaluateOnce({tables: [word]}, {word: words}, {table: 'word', where}));

  test.each([
    ['LIKE is case-sensitive', cmp('s', 'LIKE', 'a%'), [1, 2, 3, 4, 5]],
    ['LIKE A% matches nothing', cmp('s', 'LIKE', 'A%'), []],
    ['ILIKE ignores case', cmp('s', 'ILIKE', 'A%'), [1, 2, 3, 4, 5]],
    ['LIKE without wildcards is equality', cmp('s', 'LIKE', 'abc'), [2]],
    ['ILIKE without wildcards', cmp('s', 'ILIKE', 'ABC'), [1, 2]],
    ['_ matches any one character', cmp('s', 'LIKE', 'a_c'), [1, 2, 3, 4, 5]],
    ['\\% is a literal %', cmp('s', 'LIKE', 'a\\%c'), [3]],
    ['\\_ is a literal _', cmp('s', 'LIKE', 'a\\_c'), [4]],
    ['\\\\ is a literal backslash', cmp('s', 'LIKE', 'a\\\\c'), [5]],
    ['\\x is a literal x', cmp('s', 'LIKE', '\\a\\b\\c'), [2]],
    ['_ is one UTF-16 unit: é yes, 😀 no', cmp('s', 'LIKE', '_'), [6, 7]],
    ['__ matches the two units of 😀', cmp('s', 'LIKE', '__'), [8]],
    ['x__ matches x😀', cmp('s', 'LIKE', 'x__'), [9]],
    ['LIKE é is case-sensitive', cmp('s', 'LIKE', 'é'), [7]],
    ['ILIKE é folds É', cmp('s', 'ILIKE', 'é'), [6, 7]],
    [
      '% matches the empty string, not NULL',
      cmp('s', 'LIKE', '%'),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ],
    ['empty pattern', cmp('s', 'LIKE', ''), [10]],
    ['NOT LIKE excludes NULL', cmp('s', 'NOT LIKE', 'a%'), [6, 7, 8, 9, 10]],
    ['NOT ILIKE', cmp('s', 'NOT ILIKE', '%C'), [6, 7, 8, 9, 10]],
    ['% inside a pattern', cmp('s', 'LIKE', '%😀'), [8, 9]],
  ] as const)('%s', (_name, where, expected) => {
    expect(wordIds(where)).toEqual(expected);
  });

  test('matcher edge cases', () => {
    expect(likeMatches('abc', '%b%', false)).toBe(true);
    expect(likeMatches('ab', '%%', false)).toBe(true);
    expect(likeMatches('', '_', false)).toBe(false);
    expect(likeMatches('aXbXc', 'a%b%c', false)).toBe(true);
    expect(likeMatches('abab', '%ab', false)).toBe(true);
    expect(likeMatches('aba', '%ab', false)).toBe(false);
    expect(() => likeMatches('a', 'a\\', false)).toThrow(/escape/);
  });
});

describe('oracle: ordering, limit and start', () => {
  const o = table('o', 'id int, s text?, n int?, b bool?');
  const oRows = rows(
    'id, s, n, b',
    [1, 'b', 2, true],
    [2, null, 1, false],
    [3, 'B', 2, null],
    [4, 'é', null, true],
    [5, 'a', 1, false],
    [6, '😀', 2, true],
    [7, 'a', null, null],
  );
  const ids = (ast: Partial<AST>) =>
    rootValues(evaluateOnce({tables: [o]}, {o: oRows}, {table: 'o', ...ast}));

  test.each([
    ['text asc: NULL first, UTF-8 order, ties by PK', [['s', 'asc']], [2, 3, 5, 7, 1, 4, 6]],
    ['text desc: NULL last, ties still by PK asc', [['s', 'desc']], [6, 4, 1, 5, 7, 3, 2]],
    ['int desc with duplicates', [['n', 'desc']], [1, 3, 6, 2, 5, 4, 7]],
    ['bool asc: NULL < false < true', [['b', 'asc']], [3, 7, 2, 5, 1, 4, 6]],
    [
      'two columns',
      [
        ['n', 'asc'],
        ['s', 'desc'],
      ],
      [4, 7, 5, 2, 6, 1, 3],
    ],
    ['PK desc', [['id', 'desc']], [7, 6, 5, 4, 3, 2, 1]],
    ['no orderBy: PK asc', [], [1, 2, 3, 4, 5, 6, 7]],
  ] as const)('%s', (_name, orderBy, expected) => {
    expect(ids({orderBy})).toEqual(expected);
  });

  test('limit takes the first rows in order', () => {
    expect(ids({orderBy: [['n', 'desc']], limit: 3})).toEqual([1, 3, 6]);
    expect(ids({orderBy: [['n', 'desc']], limit: 0})).toEqual([]);
  });

  const byN = [['n', 'desc']] as const; // completed order: 1, 3, 6, 2, 5, 4, 7
  test.each([
    ['exclusive at a tie', {id: 6, n: 2}, true, [2, 5, 4, 7]],
    ['inclusive at a tie', {id: 6, n: 2}, false, [6, 2, 5, 4, 7]],
    ['exclusive before the NULLs (desc)', {id: 5, n: 1}, true, [4, 7]],
    ['exclusive on a NULL key', {id: 4, n: null}, true, [7]],
    ['inclusive on a NULL key', {id: 4, n: null}, false, [4, 7]],
    ['a bound row that does not exist', {id: 4, n: 1}, true, [5, 4, 7]],
    ['a bound row that does not exist, inclusive', {id: 4, n: 1}, false, [5, 4, 7]],
  ] as const)('start %s', (_name, row, exclusive, expected) => {
    expect(ids({orderBy: byN, start: {row, exclusive}})).toEqual(expected);
  });

  test('start with ascending order and NULL bound', () => {
    const byNAsc = [['n', 'asc']] as const; // 4, 7, 2, 5, 1, 3, 6
    expect(ids({orderBy: byNAsc, start: {row: {id: 7, n: null}, exclusive: true}})).toEqual([
      2, 5, 1, 3, 6,
    ]);
    expect(ids({orderBy: byNAsc, start: {row: {id: 0, n: null}, exclusive: false}})).toEqual([
      4, 7, 2, 5, 1, 3, 6,
    ]);
  });

  test('start on text and bool columns, then limit', () => {
    const start = {row: {id: 5, s: 'a'}, exclusive: true};
    expect(ids({orderBy: [['s', 'asc']], start, limit: 2})).toEqual([7, 1]);
    const boolStart = {row: {id: 2, b: false}, exclusive: false};
    expect(ids({orderBy: [['b', 'desc']], start: boolStart})).toEqual([2, 5, 3, 7]);
  });
});
