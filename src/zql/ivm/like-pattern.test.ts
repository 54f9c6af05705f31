import {describe, expect, test} from 'vitest';
import fc from 'fast-check';
import {likeMatcher, MAX_LIKE_PATTERN_LENGTH} from './like-pattern.js';

const like = (pattern: string) => likeMatcher(pattern, false);
const ilike = (pattern: string) => likeMatcher(pattern, true);

describe('wildcards', () => {
  test('% matches any run of characters, including an empty one', () => {
    expect(['ac', 'abc', 'abbbc', 'abd'].map(like('a%c'))).toEqual([true, true, true, false]);
  });

  test('_ matches exactly one character', () => {
    expect(['abc', 'ac', 'abbc'].map(like('a_c'))).toEqual([true, false, false]);
  });

  test('_ matches one UTF-16 unit, so a character outside the BMP takes two', () => {
    expect(['😀'].map(like('_'))).toEqual([false]);
    expect(['😀'].map(like('__'))).toEqual([true]);
  });

  test('the match is anchored at both ends of the value', () => {
    expect(['abc', 'xabc', 'abcx'].map(like('a%c'))).toEqual([true, false, false]);
  });
});

describe('literal characters', () => {
  test('a pattern without wildcards matches only the identical string', () => {
    expect(['a.c', 'abc', 'a.cx'].map(like('a.c'))).toEqual([true, false, false]);
  });

  test('regular-expression characters in a wildcard pattern match only themselves', () => {
    expect(['a.c(1)', 'abc(1)', 'a.c1'].map(like('a.c(_)%'))).toEqual([true, false, false]);
    expect(['[x]^$|?*+{}', 'x'].map(like('[x]^$|?*+{}%'))).toEqual([true, false]);
  });
});

describe('escapes', () => {
  test('\\% matches a percent sign only', () => {
    expect(['100%', '1000', '100'].map(like('100\\%'))).toEqual([true, false, false]);
  });

  test('\\_ matches an underscore only', () => {
    expect(['a_c', 'abc'].map(like('a\\_c'))).toEqual([true, false]);
  });

  test('\\\\ matches one backslash', () => {
    expect(['a\\b', 'ab', 'a\\\\b'].map(like('a\\\\b'))).toEqual([true, false, false]);
  });

  test('\\ before an ordinary character matches that character', () => {
    expect(['abc', '\\abc'].map(like('\\a%'))).toEqual([true, false]);
    expect(['.x', 'yx'].map(like('\\.%'))).toEqual([true, false]);
  });

  test('a pattern ending in the escape character throws', () => {
    expect(() => like('abc\\')).toThrow(/must not end with the escape character/);
    expect(() => like('\\')).toThrow(/must not end with the escape character/);
  });
});

describe('case', () => {
  test('LIKE is case-sensitive, with or without wildcards', () => {
    expect(['hello', 'Hello'].map(like('hello'))).toEqual([true, false]);
    expect(['hello', 'Hello'].map(like('h%'))).toEqual([true, false]);
  });

  test('ILIKE folds the case of both sides, with or without wildcards', () => {
    expect(['HeLLo', 'help'].map(ilike('hello'))).toEqual([true, false]);
    expect(['hello', 'xHE'].map(ilike('HE%'))).toEqual([true, false]);
  });

  test('ILIKE folds case beyond ASCII (unlike SQLite LIKE)', () => {
    expect(['ÄRGER'].map(ilike('ärger'))).toEqual([true]);
    expect(['ÄRGER'].map(ilike('är%'))).toEqual([true]);
  });
});

describe('line breaks (the client matches with the RegExp m flag)', () => {
  test('a wildcard pattern matches a value when it matches any one of its lines', () => {
    expect(['abc\ndef'].map(like('abc%'))).toEqual([true]);
    expect(['abc\ndef'].map(like('%def'))).toEqual([true]);
    expect(['abc\ndef'].map(like('d_f'))).toEqual([true]);
  });

  test('% and _ do not match a line break', () => {
    expect(['abc\ndef'].map(like('abc%def'))).toEqual([false]);
    expect(['abc\ndef'].map(like('abc_def'))).toEqual([false]);
  });

  test('a pattern without wildcards compares the whole value, line breaks included', () => {
    expect(['abc\ndef', 'abc'].map(like('abc\ndef'))).toEqual([true, false]);
    expect(['abc\ndef'].map(like('abc'))).toEqual([false]);
  });
});

describe('time (every client is untrusted)', () => {
  test('a pattern that makes a backtracking RegExp take minutes answers in one pass', () => {
    const value = 'a'.repeat(3000);
    expect(like('%a%a%a%a%a%a%a%a%b')(value)).toBe(false);
    expect(like('%a%a%a%a%a%a%a%a%a')(value)).toBe(true);
    expect(ilike('%A%_%A%_%A%_%A%_%B')(value + '\n' + value)).toBe(false);
  });

  test('a pattern longer than the limit is refused when the predicate is built', () => {
    expect(() => like('%'.padEnd(MAX_LIKE_PATTERN_LENGTH + 1, 'a'))).toThrow(/at most 4096/);
  });
});

describe('agrees with the client RegExp on random values and patterns', () => {
  /** The client's own construction (§8.6), as an oracle for short inputs only. */
  function clientRegExp(pattern: string, flags: string): RegExp {
    let source = '^';
    for (let i = 0; i < pattern.length; i++) {
      let c = pattern[i]!;
      if (c === '%') source += '.*';
      else if (c === '_') source += '.';
      else {
        if (c === '\\') c = pattern[++i]!;
        source += /[$()*+.?[\]\\^{|}]/.test(c) ? '\\' + c : c;
      }
    }
    return new RegExp(source + '$', flags + 'm');
  }

  const alphabet = ['a', 'A', 'b', 'ß', 'é', 'É', '\n', '\r', '\u2028', '😀', '.', '*'];
  const valueArb = fc.array(fc.constantFrom(...alphabet), {maxLength: 12}).map((a) => a.join(''));
  const patternArb = fc
    .array(fc.constantFrom(...alphabet, '%', '_', '\\%', '\\_', '\\\\', '\\a'), {maxLength: 8})
    .map((a) => a.join(''))
    .filter((p) => /[_%\\]/.test(p));

  test.each([false, true])('case-insensitive: %s', (caseInsensitive) => {
    fc.assert(
      fc.property(patternArb, fc.array(valueArb, {maxLength: 6}), (pattern, values) => {
        const matcher = likeMatcher(pattern, caseInsensitive);
        const re = clientRegExp(pattern, caseInsensitive ? 'i' : '');
        for (const v of values) expect(matcher(v), JSON.stringify([pattern, v])).toBe(re.test(v));
      }),
      {numRuns: 3000, seed: 14},
    );
  });
});
