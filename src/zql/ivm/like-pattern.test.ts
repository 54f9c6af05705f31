import {describe, expect, test} from 'vitest';
import {likeMatcher} from './like-pattern.js';

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
