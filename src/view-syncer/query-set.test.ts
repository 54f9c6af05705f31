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

test('beyond the bound, the oldest query tombstones and their desires are forgotten', () => {
  const qs = fresh();
  const at = (minor: number) => ({stateVersion: '0a', minorVersion: minor});
  for (let i = 1; i <= 12; i++) {
    qs.applyPatch('c1', [{op: 'put', hash: `h${i}`, ast, ttl: 0}], at(i), 0);
    if (i <= 8) {
      qs.applyPatch('c1', [{op: 'del', hash: `h${i}`}], at(i), 0);
      qs.tombstone(`h${i}`, at(i));
    }
  }
  expect(qs.purgeTombstones(20)).toEqual({hashes: [], through: null});
  const {hashes, through} = qs.purgeTombstones(10);
  // 12 records, bound 10: down to 9 (90%), oldest tombstones first; live h9–h12 stay.
  expect(hashes).toEqual(['h1', 'h2', 'h3']);
  expect(through).toEqual(at(3));
  expect([...qs.queries.keys()]).toEqual(['h4', 'h5', 'h6', 'h7', 'h8', 'h9', 'h10', 'h11', 'h12']);
  expect(qs.desires.get('c1')!.has('h1')).toBe(false);
  expect(qs.takeDirty().desires.some((d) => d.queryHash === 'h1')).toBe(false);
});

test('live queries are never forgotten, whatever the bound', () => {
  const qs = fresh();
  for (let i = 1; i <= 12; i++) qs.applyPatch('c1', [{op: 'put', hash: `h${i}`, ast}], v1, 0);
  expect(qs.purgeTombstones(10)).toEqual({hashes: [], through: null});
  expect(qs.queries.size).toBe(12);
});
