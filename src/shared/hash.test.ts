import {xxHash32} from 'js-xxhash';
import {describe, expect, test} from 'vitest';
import {h32, h64} from './hash.js';

describe('h64', () => {
  test('matches the fact sheet vector', () => {
    expect(h64('abc')).toBe('rtjjvs99c9of');
  });

  test('is (seed0 << 32) + seed1 of the UTF-8 bytes, in base 36', () => {
    for (const s of ['', 'a', 'é', '日本', '😀', 'x'.repeat(1000)]) {
      const bytes = new TextEncoder().encode(s);
      const expected = (BigInt(xxHash32(bytes, 0)) << 32n) + BigInt(xxHash32(bytes, 1));
      expect(h64(s)).toBe(expected.toString(36));
    }
  });

  test('hashes astral characters by their UTF-8 bytes, not UTF-16 units', () => {
    expect(h64('😀')).not.toBe(h64('\ud83d'));
    expect(h64('😀')).toBe(h64(String.fromCodePoint(0x1f600)));
  });
});

describe('h32', () => {
  test('is xxHash32 with seed 0, unsigned', () => {
    expect(h32('abc')).toBe(xxHash32('abc', 0));
    expect(h32('abc')).toBeGreaterThanOrEqual(0);
    expect(h32('abc')).toBeLessThan(2 ** 32);
  });
});
