import {describe, expect, test} from 'vitest';
import type {LiteralValue, SimpleCondition} from '../../protocol/ast.js';
import type {Value} from './data.js';
import {simplePredicate} from './predicate.js';

/** `x op value` as a predicate on the value of column x. */
function holds(op: SimpleCondition['op'], value: LiteralValue): (x: Value) => boolean {
  const p = simplePredicate({
    type: 'simple',
    op,
    left: {type: 'column', name: 'x'},
    right: {type: 'literal', value},
  });
  return (x) => p(x === undefined ? {} : {x});
}

const COMPARISONS = ['=', '!=', '<', '>', '<=', '>='] as const;
const LIKES = ['LIKE', 'NOT LIKE', 'ILIKE', 'NOT ILIKE'] as const;

describe('null semantics', () => {
  test.each([...COMPARISONS, ...LIKES])('%s is false for a null or missing left value', (op) => {
    expect(holds(op, 'a')(null)).toBe(false);
    expect(holds(op, 'a')(undefined)).toBe(false);
  });

  test.each([...COMPARISONS, ...LIKES])('%s is false for a null right value', (op) => {
    expect(holds(op, null)('a')).toBe(false);
    expect(holds(op, null)(null)).toBe(false);
  });

  test('IS null matches exactly the null and missing values', () => {
    const isNull = holds('IS', null);
    expect([null, undefined, 0, '', false].map(isNull)).toEqual([true, true, false, false, false]);
  });

  test('IS NOT null matches exactly the present values', () => {
    const isNotNull = holds('IS NOT', null);
    expect([null, undefined, 0, '', false].map(isNotNull)).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  test('IS with a value matches that value by identity, never null', () => {
    const is1 = holds('IS', 1);
    expect([1, 2, '1', true, null].map(is1)).toEqual([true, false, false, false, false]);
  });

  test('IS NOT with a value matches null and every other value', () => {
    const isNot1 = holds('IS NOT', 1);
    expect([1, 2, '1', null, undefined].map(isNot1)).toEqual([false, true, true, true, true]);
  });

  test('IN and NOT IN are both false for a null left value', () => {
    expect(holds('IN', [1, 2])(null)).toBe(false);
    expect(holds('NOT IN', [1, 2])(null)).toBe(false);
    expect(holds('NOT IN', [1, 2])(undefined)).toBe(false);
  });
});

describe('comparisons', () => {
  test('= and != compare by strict identity, without type coercion', () => {
    expect([1, '1', true].map(holds('=', 1))).toEqual([true, false, false]);
    expect([1, '1', true].map(holds('!=', 1))).toEqual([false, true, true]);
  });

  test('ordering operators compare strings by UTF-8 byte order, not UTF-16 units', () => {
    // U+FFFF sorts before U+1F600 in UTF-8 (and code points); in UTF-16 units it sorts after.
    expect(holds('<', '😀')('\uffff')).toBe(true);
    expect(holds('>', 'a')('B')).toBe(false);
  });

  test('ordering operators include or exclude the equal value as their symbol says', () => {
    expect([1, 2, 3].map(holds('<', 2))).toEqual([true, false, false]);
    expect([1, 2, 3].map(holds('<=', 2))).toEqual([true, true, false]);
    expect([1, 2, 3].map(holds('>', 2))).toEqual([false, false, true]);
    expect([1, 2, 3].map(holds('>=', 2))).toEqual([false, true, true]);
  });

  test('ordering a value against one of another type orders by type and never throws', () => {
    // A throw here would quote the row's value to the client (issue 14).
    expect(['a', true, null].map(holds('<', 1))).toEqual([false, true, false]);
    expect([{x: 1}, 'a'].map(holds('>', 'b'))).toEqual([true, false]);
  });
});

describe('IN / NOT IN', () => {
  test('IN matches the members of the list by strict equality', () => {
    expect([1, 2, 3, '1'].map(holds('IN', [1, 2]))).toEqual([true, true, false, false]);
  });

  test('NOT IN matches the present values that are not members', () => {
    expect([1, 3, '1'].map(holds('NOT IN', [1, 2]))).toEqual([false, true, true]);
  });

  test('IN with a non-list right side is refused when the predicate is built', () => {
    expect(() => holds('IN', 1)).toThrow(/needs an array/);
  });
});

describe('LIKE family', () => {
  test('NOT LIKE is the negation of LIKE for strings', () => {
    expect(['abc', 'xbc'].map(holds('NOT LIKE', 'a%'))).toEqual([false, true]);
  });

  test('NOT ILIKE is the negation of ILIKE for strings', () => {
    expect(['ABC', 'xbc'].map(holds('NOT ILIKE', 'a%'))).toEqual([false, true]);
  });

  test('a non-string value matches neither LIKE nor NOT LIKE, and nothing throws', () => {
    expect([1, true, [1]].map(holds('LIKE', '%'))).toEqual([false, false, false]);
    expect([1, true, [1]].map(holds('NOT LIKE', 'x%'))).toEqual([false, false, false]);
  });

  test('a pattern ending in the escape character is refused when the predicate is built', () => {
    expect(() => holds('LIKE', 'abc\\')).toThrow(/must not end with the escape character/);
  });
});

describe('malformed conditions', () => {
  test('a left side that is not a column is refused', () => {
    expect(() =>
      simplePredicate({
        type: 'simple',
        op: '=',
        left: {type: 'literal', value: 1},
        right: {type: 'literal', value: 1},
      }),
    ).toThrow(/left side .* must be a column/);
  });

  test('an unbound static parameter is refused', () => {
    expect(() =>
      simplePredicate({
        type: 'simple',
        op: '=',
        left: {type: 'column', name: 'x'},
        right: {type: 'static', anchor: 'authData', field: 'sub'},
      }),
    ).toThrow(/unbound static parameter/);
  });
});
