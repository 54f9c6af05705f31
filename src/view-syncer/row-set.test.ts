import {expect, test} from 'vitest';
import {RowSet} from './row-set.js';

const v1 = {stateVersion: '0a'};
const v2 = {stateVersion: '0b'};
const v3 = {stateVersion: '0c'};
const put = (id: number, version = '01') => ({
  op: 'put' as const,
  table: 'issue',
  key: {id},
  row: {id, _0_version: version},
});
const del = (id: number) => ({op: 'del' as const, table: 'issue', key: {id}});

test('a row referenced by two queries is deleted only when both let go', () => {
  const rows = new RowSet(new Map());
  rows.apply('q1', [put(1)], v1);
  rows.apply('q2', [put(1)], v1);
  expect(rows.finish(v1).changes.map((c) => c.id)).toEqual(['issue/[1]']);
  rows.apply('q1', [del(1)], v2);
  expect(rows.finish(v2).changes).toEqual([]);
  rows.apply('q2', [del(1)], v3);
  expect(rows.finish(v3).changes).toEqual([{id: 'issue/[1]', table: 'issue', key: {id: 1}}]);
  expect(rows.records.get('issue/[1]')).toMatchObject({refCounts: null, patchVersion: v3});
});

test('a row put again at the same version is not re-sent; a new version is', () => {
  const rows = new RowSet(new Map());
  rows.apply('q1', [put(1, '01')], v1);
  rows.finish(v1);
  rows.apply('q1', [del(1), put(1, '01')], v2);
  expect(rows.finish(v2).changes).toEqual([]);
  rows.apply('q1', [put(1, '02')], v3);
  expect(rows.finish(v3).changes.map((c) => c.row?._0_version)).toEqual(['02']);
});

test('releasing a query removes its references', () => {
  const rows = new RowSet(new Map());
  rows.apply('q1', [put(1), put(2)], v1);
  rows.apply('q2', [put(2)], v1);
  rows.finish(v1);
  rows.release('q1');
  expect(rows.finish(v2).changes.map((c) => [c.id, c.row ? 'put' : 'del'])).toEqual([
    ['issue/[1]', 'del'],
  ]);
});
