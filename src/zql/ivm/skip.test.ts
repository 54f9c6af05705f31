import {describe, expect, test} from 'vitest';
import {
  ISSUE_TABLES,
  Recorder,
  ids,
  issueRow,
  operatorWorld,
  type OperatorWorld,
} from '../../../test/support/operator-harness.js';
import {Skip} from './skip.js';

/** Issues 1..5, ordered by id. */
function world(): OperatorWorld {
  const w = operatorWorld(ISSUE_TABLES);
  w.seed(...[1, 2, 3, 4, 5].map((id) => w.f.insert('issue', issueRow(id))));
  return w;
}

function skipFrom3(w: OperatorWorld, exclusive: boolean): Skip {
  const source = w.sources.getSource('issue').connect([['id', 'asc']]);
  return new Skip(source, {row: {id: 3}, exclusive});
}

describe('fetch', () => {
  test('an exclusive bound starts strictly after the bound row', () => {
    expect(ids(skipFrom3(world(), true).fetch({}))).toEqual([4, 5]);
  });

  test('an inclusive bound starts at the bound row', () => {
    expect(ids(skipFrom3(world(), false).fetch({}))).toEqual([3, 4, 5]);
  });

  test('a bound row need not exist: the bound is a position in the ordering', () => {
    const w = world();
    const source = w.sources.getSource('issue').connect([
      ['modified', 'asc'],
      ['id', 'asc'],
    ]);
    const skip = new Skip(source, {row: {modified: 25, id: 0}, exclusive: false});
    expect(ids(skip.fetch({}))).toEqual([3, 4, 5]);
  });

  test('a start before the bound is moved to the bound', () => {
    const skip = skipFrom3(world(), true);
    expect(ids(skip.fetch({start: {row: {id: 1}, basis: 'at'}}))).toEqual([4, 5]);
  });

  test('a start at an exclusive bound row still skips that row', () => {
    const skip = skipFrom3(world(), true);
    expect(ids(skip.fetch({start: {row: {id: 3}, basis: 'at'}}))).toEqual([4, 5]);
  });

  test('a start after the bound is kept', () => {
    const skip = skipFrom3(world(), false);
    expect(ids(skip.fetch({start: {row: {id: 4}, basis: 'at'}}))).toEqual([4, 5]);
    expect(ids(skip.fetch({start: {row: {id: 4}, basis: 'after'}}))).toEqual([5]);
  });

  test('a reverse fetch stops at an exclusive bound', () => {
    expect(ids(skipFrom3(world(), true).fetch({reverse: true}))).toEqual([5, 4]);
  });

  test('a reverse fetch stops after an inclusive bound row', () => {
    expect(ids(skipFrom3(world(), false).fetch({reverse: true}))).toEqual([5, 4, 3]);
  });

  test('a reverse fetch from a start stops at the bound', () => {
    const skip = skipFrom3(world(), true);
    expect(ids(skip.fetch({start: {row: {id: 5}, basis: 'after'}, reverse: true}))).toEqual([4]);
  });

  test('a constrained fetch keeps the bound', () => {
    const skip = skipFrom3(world(), true);
    expect(ids(skip.fetch({constraint: {open: true}}))).toEqual([4, 5]);
  });
});

describe('push', () => {
  test('changes of rows before an exclusive bound, or of the bound row, are dropped', () => {
    const w = world();
    const out = new Recorder(skipFrom3(w, true));
    w.commit(
      w.f.insert('issue', issueRow(0)),
      w.f.delete('issue', {id: 2}),
      w.f.update('issue', issueRow(3, {title: 'x'})),
    );
    expect(out.log).toEqual([]);
  });

  test('changes of rows after the bound are passed on', () => {
    const w = world();
    const out = new Recorder(skipFrom3(w, true));
    w.commit(
      w.f.insert('issue', issueRow(6)),
      w.f.delete('issue', {id: 5}),
      w.f.update('issue', issueRow(4, {title: 'x'})),
    );
    expect(out.log).toEqual(['add 6', 'remove 5', 'remove 4', 'add 4']);
  });

  test('changes of the bound row itself are passed on under an inclusive bound', () => {
    const w = world();
    const out = new Recorder(skipFrom3(w, false));
    w.commit(w.f.delete('issue', {id: 3}));
    expect(out.log).toEqual(['remove 3']);
  });

  test('a row moving from before the bound to after it arrives as an add', () => {
    const w = world();
    const source = w.sources.getSource('issue').connect([
      ['modified', 'asc'],
      ['id', 'asc'],
    ]);
    const out = new Recorder(new Skip(source, {row: {modified: 30, id: 3}, exclusive: true}));
    w.commit(w.f.update('issue', issueRow(1, {modified: 99})));
    expect(out.log).toEqual(['add 1']);
  });
});
