import {expect, test} from 'vitest';
import type {AST} from '../protocol/ast.js';
import {TransformCache, type TransformCacheKey} from './transform-cache.js';

const ast = (table: string): AST => ({table});
const key = (overrides: Partial<TransformCacheKey> = {}): TransformCacheKey => ({
  url: 'http://api/query',
  token: undefined,
  cookie: undefined,
  userID: undefined,
  queryID: 'q1',
  ...overrides,
});

test('an entry is reused only for the same url, token, cookie, user id and query id', () => {
  const cache = new TransformCache();
  cache.set(key({cookie: 'session=alice'}), ast('alice'));

  expect(cache.get(key({cookie: 'session=alice'}))).toEqual(ast('alice'));
  expect(cache.get(key({cookie: 'session=bob'}))).toBeUndefined();
  expect(cache.get(key())).toBeUndefined();
  expect(cache.get(key({cookie: 'session=alice', token: 't'}))).toBeUndefined();
  expect(cache.get(key({cookie: 'session=alice', userID: 'alice'}))).toBeUndefined();
  expect(cache.get(key({cookie: 'session=alice', url: 'http://other/query'}))).toBeUndefined();
  expect(cache.get(key({cookie: 'session=alice', queryID: 'q2'}))).toBeUndefined();
});

test('an entry expires 5 s after it was stored, and is removed when found expired', () => {
  let now = 1000;
  const cache = new TransformCache({now: () => now});
  cache.set(key(), ast('t'));
  now += 4999;
  expect(cache.get(key())).toEqual(ast('t'));
  now += 1;
  expect(cache.get(key())).toBeUndefined();
  expect(cache.size).toBe(0);
});

test('inserting drops expired entries and, past the entry limit, the oldest ones', () => {
  let now = 0;
  const cache = new TransformCache({maxEntries: 2, now: () => now});
  cache.set(key({queryID: 'a'}), ast('a'));
  now = 6000;
  cache.set(key({queryID: 'b'}), ast('b'));
  expect(cache.size).toBe(1); // 'a' had expired
  cache.set(key({queryID: 'c'}), ast('c'));
  cache.set(key({queryID: 'd'}), ast('d'));
  expect(cache.size).toBe(2);
  expect(cache.get(key({queryID: 'b'}))).toBeUndefined();
  expect(cache.get(key({queryID: 'c'}))).toEqual(ast('c'));
  expect(cache.get(key({queryID: 'd'}))).toEqual(ast('d'));
});
