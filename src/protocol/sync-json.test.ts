import {describe, expect, test} from 'vitest';
import {jsonValueSchema} from './sync-json.js';

const check = (value: unknown) => jsonValueSchema.try(value);

describe('jsonValueSchema', () => {
  test('accepts JSON values, with open objects', () => {
    for (const value of [null, true, 0, -1.5, '', 'x', [], {}, {a: [1, {b: null}], 'c d': 'e'}]) {
      expect(check(value)).toEqual({ok: true, value});
    }
  });

  test.each([
    ['undefined', undefined, []],
    ['NaN', NaN, []],
    ['Infinity in an array', [1, Infinity], [1]],
    ['a function in an object', {a: {f: () => 1}}, ['a', 'f']],
    ['a Date', {when: new Date(0)}, ['when']],
    ['a bigint', [{n: 1n}], [0, 'n']],
  ])('rejects %s, with its path', (_name, value, path) => {
    const result = check(value);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues[0]).toMatchObject({message: 'not a JSON value', path});
    }
  });

  test('deep nesting does not overflow the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) {
      deep = [deep];
    }
    expect(check(deep).ok).toBe(true);
  });
});
