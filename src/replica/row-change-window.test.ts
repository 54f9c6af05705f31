import {expect, test} from 'vitest';
import {replicaFixture} from '../../test/support/replica-fixture.js';
import {RowChangeWindow} from './row-change-window.js';
import {purgeRowChangesBefore} from './row-changes.js';

function world(maxEntries?: number) {
  const f = replicaFixture({item: {columns: {id: 'int4', v: 'text'}, primaryKey: ['id']}});
  const v1 = f.tx(f.insert('item', {id: 1, v: 'a'}), f.insert('item', {id: 2, v: 'b'}));
  const window = new RowChangeWindow(f.db, maxEntries);
  window.refresh();
  return {f, v1, window};
}

test('lists the entries after a version, with each changed row as it is at the head', () => {
  const {f, v1, window} = world();
  const v2 = f.tx(f.update('item', {id: 1, v: 'a2'}));
  const v3 = f.tx(f.update('item', {id: 1, v: 'a3'}), f.delete('item', {id: 2}));
  window.refresh();
  const all = window.since(v1)!;
  expect(all.head).toBe(v3);
  expect(all.entries.map((e) => [e.stateVersion, e.rowKey, e.oldRow?.v])).toEqual([
    [v2, {id: 1}, 'a'],
    [v3, {id: 1}, 'a2'],
    [v3, {id: 2}, 'b'],
  ]);
  expect(all.headImage(all.entries[0]!)).toMatchObject({id: 1n, v: 'a3'});
  expect(all.headImage(all.entries[2]!)).toBeNull();
  expect(window.since(v2)!.entries.map((e) => e.stateVersion)).toEqual([v3, v3]);
  expect(window.since(v3)!.entries).toEqual([]);
});

test('does not answer for versions outside the window', () => {
  const {f, v1, window} = world();
  const before = f.tx(f.update('item', {id: 2, v: 'x'}));
  expect(window.since(before)).toBeUndefined(); // after the head until refreshed
  window.refresh();
  expect(window.since('00')).toBeUndefined(); // before the window opened
  expect(window.since(v1)).toBeDefined();
});

test('trims whole versions from the front when it holds too many entries', () => {
  const {f, v1, window} = world(2);
  const v2 = f.tx(f.update('item', {id: 1, v: 'a2'}), f.update('item', {id: 2, v: 'b2'}));
  const v3 = f.tx(f.update('item', {id: 1, v: 'a3'}));
  window.refresh();
  expect(window.since(v1)).toBeUndefined();
  const rest = window.since(v2)!;
  expect(rest.entries.map((e) => e.stateVersion)).toEqual([v3]);
  expect(rest.headImage(rest.entries[0]!)).toMatchObject({v: 'a3'});
});

test('starts afresh at the head when the change list was purged past it', () => {
  const {f, v1, window} = world();
  f.tx(f.update('item', {id: 1, v: 'a2'}));
  const v3 = f.tx(f.update('item', {id: 1, v: 'a3'}));
  purgeRowChangesBefore(f.db, v3);
  window.refresh();
  expect(window.since(v1)).toBeUndefined();
  expect(window.since(v3)).toEqual(expect.objectContaining({head: v3, entries: []}));
});
