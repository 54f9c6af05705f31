import {expect, test} from 'vitest';
import type {AST} from '../protocol/ast.js';
import {QuerySet} from './query-set.js';

const ast: AST = {table: 'issue'};
const v1 = {stateVersion: '0a', minorVersion: 1};
const v2 = {stateVersion: '0a', minorVersion: 2};

function fresh() {
  return new QuerySet(new Map(), new Map());
}

test('a put adds a desired query; the same put again changes nothing', () => {
  const qs = fresh();
  expect(qs.applyPatch('c1', [{op: 'put', hash: 'h1', ast, ttl: 1000}], v1, 0)).toEqual([
    {clientID: 'c1', op: 'put', queryHash: 'h1'},
  ]);
  expect(qs.applyPatch('c1', [{op: 'put', hash: 'h1', ast, ttl: 1000}], v2, 0)).toEqual([]);
  expect(qs.applyPatch('c1', [{op: 'put', hash: 'h1', ast, ttl: 500}], v2, 0)).toEqual([]);
  expect(qs.applyPatch('c1', [{op: 'put', hash: 'h1', ast, ttl: 2000}], v2, 0)).toHaveLength(1);
});

test('a deleted query lives on until its TTL runs out on the TTL clock', () => {
  const qs = fresh();
  qs.applyPatch('c1', [{op: 'put', hash: 'h1', ast, ttl: 1000}], v1, 0);
  qs.applyPatch('c1', [{op: 'del', hash: 'h1'}], v2, 5000);
  expect(qs.expiredQueries(5999).map((q) => q.queryHash)).toEqual([]);
  expect(qs.nextExpiry()).toBe(6000);
  expect(qs.expiredQueries(6000).map((q) => q.queryHash)).toEqual(['h1']);
});

test('a query stays while any client still desires it', () => {
  const qs = fresh();
  qs.applyPatch('c1', [{op: 'put', hash: 'h1', ast, ttl: 0}], v1, 0);
  qs.applyPatch('c2', [{op: 'put', hash: 'h1', ast, ttl: 0}], v1, 0);
  qs.applyPatch('c1', [{op: 'del', hash: 'h1'}], v2, 10);
  expect(qs.expiredQueries(1e9)).toEqual([]);
});

test('clear drops every desire of the client without TTL', () => {
  const qs = fresh();
  qs.applyPatch(
    'c1',
    [
      {op: 'put', hash: 'h1', ast, ttl: 60_000},
      {op: 'put', hash: 'h2', ast},
    ],
    v1,
    0,
  );
  expect(qs.applyPatch('c1', [{op: 'clear'}], v2, 10).map((p) => p.op)).toEqual(['del', 'del']);
  expect(
    qs
      .expiredQueries(10)
      .map((q) => q.queryHash)
      .sort(),
  ).toEqual(['h1', 'h2']);
});

test('TTLs are clamped to ten minutes', () => {
  const qs = fresh();
  qs.applyPatch('c1', [{op: 'put', hash: 'h1', ast, ttl: 3_600_000}], v1, 0);
  qs.applyPatch('c1', [{op: 'del', hash: 'h1'}], v2, 0);
  expect(qs.nextExpiry()).toBe(600_000);
});

test('a put with neither an AST nor a name is refused', () => {
  expect(() => fresh().applyPatch('c1', [{op: 'put', hash: 'h1'}], v1, 0)).toThrow(
    /neither an ast nor a name/,
  );
});
