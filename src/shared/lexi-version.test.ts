import {expect, test} from 'vitest';
import {versionFromLexi, versionToLexi} from './lexi-version.js';
import {bigIntToLsn, lsnToBigInt, lsnToWatermark} from './lsn.js';
import {parseBigIntJSON, stringifyBigIntJSON} from './bigint-json.js';

test('lexi versions match the published examples', () => {
  const cases: [bigint, string][] = [
    [0n, '00'],
    [10n, '0a'],
    [35n, '0z'],
    [36n, '110'],
    [46655n, '2zzz'],
    [1000000n, '3lfls'],
    [2n ** 64n, 'c3w5e11264sgsg'],
  ];
  for (const [n, s] of cases) {
    expect(versionToLexi(n)).toBe(s);
    expect(versionFromLexi(s)).toBe(n);
  }
});

test('lexi order equals numeric order', () => {
  const nums = [0n, 1n, 35n, 36n, 1295n, 1296n, 99999999n, 2n ** 40n, 2n ** 63n];
  const lex = nums.map(versionToLexi);
  expect([...lex].sort()).toEqual(lex);
});

test('LSNs become lexi watermarks as in the fact sheet', () => {
  expect(lsnToWatermark('0/16B3748')).toBe('4e672g');
  expect(lsnToWatermark('1/0')).toBe('61z141z4');
  expect(bigIntToLsn(lsnToBigInt('AB/CDEF0123'))).toBe('AB/CDEF0123');
});

test('malformed lexi versions are rejected', () => {
  expect(() => versionFromLexi('1a')).toThrow(/malformed/);
  expect(() => versionFromLexi('')).toThrow(/malformed/);
});

test('bigint JSON round-trips integers beyond 2^53', () => {
  const v = {a: 2n ** 62n, b: -(2n ** 60n), c: 'x 12345678901234567890', d: 1.5, e: 12};
  const text = stringifyBigIntJSON(v);
  expect(text).toBe(
    '{"a":4611686018427387904,"b":-1152921504606846976,"c":"x 12345678901234567890","d":1.5,"e":12}',
  );
  expect(parseBigIntJSON(text)).toEqual(v);
});
