import {expect, test} from 'vitest';
import {pickGroupToken} from './group-token.js';

const tok = (sub: string, iat?: number) => ({
  token: `${sub}-${iat}`,
  authData: {sub, ...(iat ? {iat} : {})},
});

test('the first verified token wins until a newer one with the same subject arrives', () => {
  const a1 = tok('alice', 100);
  expect(pickGroupToken({}, a1)).toBe(a1);
  expect(pickGroupToken(a1, tok('alice', 50))).toBe(a1);
  const a2 = tok('alice', 200);
  expect(pickGroupToken(a1, a2)).toBe(a2);
});

test('a different subject, a missing iat after one with iat, or no token at all is Unauthorized', () => {
  expect(() => pickGroupToken(tok('alice', 1), tok('bob', 2))).toThrow(/subject/);
  expect(() => pickGroupToken(tok('alice', 1), tok('alice'))).toThrow(/no iat/);
  expect(() => pickGroupToken(tok('alice', 1), {})).toThrow(/No token/);
});

test('unverified tokens are not compared: the newest is used', () => {
  expect(pickGroupToken({token: 'old'}, {token: 'new'})).toEqual({token: 'new'});
});
