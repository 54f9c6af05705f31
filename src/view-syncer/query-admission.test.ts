import {expect, test} from 'vitest';
import type {QueryRecord} from './cvr-types.js';
import {admitQueries} from './query-admission.js';

const q = (queryHash: string, kind: QueryRecord['kind'] = 'client'): QueryRecord => ({
  queryHash,
  kind,
  ast: {table: 't'},
  name: null,
  args: null,
  patchVersion: null,
  transformationHash: null,
  deleted: false,
});

test('starts new queries up to the limit, counting those already running, and refuses the rest', () => {
  const live = [q('a'), q('b'), q('c'), q('d')];
  const {start, refused} = admitQueries(live, new Set(['a']), 3);
  expect(start.map((x) => x.queryHash)).toEqual(['b', 'c']);
  expect(refused.map((x) => x.queryHash)).toEqual(['d']);
});

test('internal queries always start and do not count', () => {
  const live = [q('lmids', 'internal'), q('a'), q('b')];
  const {start, refused} = admitQueries(live, new Set(), 2);
  expect(start.map((x) => x.queryHash)).toEqual(['lmids', 'a', 'b']);
  expect(refused).toEqual([]);
});
