import {expect, test} from 'vitest';
import {passwordMatches} from './password-match.js';

test('only the exact password matches', () => {
  expect(passwordMatches('sesame', 'sesame')).toBe(true);
  expect(passwordMatches('sesamE', 'sesame')).toBe(false);
  expect(passwordMatches('', 'sesame')).toBe(false);
});

test('passwords of different lengths are compared without throwing', () => {
  // timingSafeEqual throws on buffers of unequal length; the digests never differ in length.
  expect(passwordMatches('sesame-and-more', 'sesame')).toBe(false);
  expect(passwordMatches('s', 'sesame')).toBe(false);
});

test('non-ASCII passwords compare by their UTF-8 bytes', () => {
  expect(passwordMatches('pässwörd', 'pässwörd')).toBe(true);
  expect(passwordMatches('passwörd', 'pässwörd')).toBe(false);
});
