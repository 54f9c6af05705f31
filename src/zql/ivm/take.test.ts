import {describe, expect, test} from 'vitest';
import {
  BY_ID,
  BY_MODIFIED,
  ISSUE_TABLES,
  Recorder,
  ids,
  issueRow,
  operatorWorld,
  type OperatorWorld,
} from '../../../test/support/operator-harness.js';

import {Join} from './join.js';
import type {FetchRequest} from './operator.js';
import {Take} from './take.js';

function issues(...idList: number[]): OperatorWorld {
  const w = operatorWorld(ISSUE_TABLES);
  w.seed(...idList.map((id) => w.f.insert('issue', issueRow(id))));
  return w;
}

function takeIssues(w: OperatorWorld, limit: number, ordering = BY_ID) {
  const take = new Take(w.sources.getSource('issue').connect(ordering), limit);
  const out = new Recorder(take);
  ids(take.fetch({})); // downstream knows nothing before its first fetch
  return {take, out};
}

/** What a fetch through `take` returns inside each push it makes. */
function fetchedDuringPushes(take: Take, out: Recorder, req: FetchRequest = {}): unknown[][] {
  const seen: unknown[][] = [];
  out.onPush = () => seen.push(ids(take.fetch(req)));
  return seen;
}

describe('fetch', () => {
  test('returns the first N rows in order', () => {
    const {take} = takeIssues(issues(5, 4, 3, 2, 1), 3);
    expect(ids(take.fetch({}))).toEqual([1, 2, 3]);
  });

  test('in reverse returns the same rows from the last', () => {
    const {take} = takeIssues(issues(1, 2, 3, 4, 5), 3);
    expect(ids(take.fetch({reverse: true}))).toEqual([3, 2, 1]);
  });

  test('with limit 0 returns nothing', () => {
    const {take} = takeIssues(issues(1, 2), 0);
    expect(ids(take.fetch({}))).toEqual([]);
  });
});

describe('push, overall limit', () => {
  test('an add while not full is passed on', () => {
    const w = issues(1, 2);
    const {take, out} = takeIssues(w, 3);
    w.commit(w.f.insert('issue', issueRow(9)));
    expect(out.log).toEqual(['add 9']);
    expect(ids(take.fetch({}))).toEqual([1, 2, 9]);
  });

  test('an add after the bound of a full take is dropped', () => {
    const w = issues(1, 2, 3);
    const {take, out} = takeIssues(w, 3);
    w.commit(w.f.insert('issue', issueRow(4)));
    expect(out.log).toEqual([]);
    expect(ids(take.fetch({}))).toEqual([1, 2, 3]);
  });

  test('an add before the bound of a full take is passed on, then the old bound is removed', () => {
    const w = issues(1, 2, 3, 4);
    const {take, out} = takeIssues(w, 3);
    w.commit(w.f.insert('issue', issueRow(0)));
    expect(out.log).toEqual(['add 0', 'remove 3']);
    expect(ids(take.fetch({}))).toEqual([0, 1, 2]);
  });

  test('during add-then-evict, each fetch returns exactly what downstream has been told', () => {
    const w = issues(1, 2, 3, 4);
    const {take, out} = takeIssues(w, 3);
    const seen = fetchedDuringPushes(take, out);
    w.commit(w.f.insert('issue', issueRow(0)));
    expect(seen).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2],
    ]);
  });

  test('a remove inside the limit pulls in the next row', () => {
    const w = issues(1, 2, 3, 4, 5);
    const {take, out} = takeIssues(w, 3);
    w.commit(w.f.delete('issue', {id: 2}));
    expect(out.log).toEqual(['remove 2', 'add 4']);
    expect(ids(take.fetch({}))).toEqual([1, 3, 4]);
  });

  test('during remove-then-refill, each fetch returns exactly what downstream has been told', () => {
    const w = issues(1, 2, 3, 4, 5);
    const {take, out} = takeIssues(w, 3);
    const seen = fetchedDuringPushes(take, out);
    w.commit(w.f.delete('issue', {id: 2}));
    expect(seen).toEqual([
      [1, 3],
      [1, 3, 4],
    ]);
  });

  test('a remove after the bound is dropped', () => {
    const w = issues(1, 2, 3, 4);
    const {out} = takeIssues(w, 3);
    w.commit(w.f.delete('issue', {id: 4}));
    expect(out.log).toEqual([]);
  });

  test('a remove with no row to replace it shrinks the result, making room for the next add', () => {
    const w = issues(1, 2, 3);
    const {take, out} = takeIssues(w, 3);
    w.commit(w.f.delete('issue', {id: 2}));
    w.commit(w.f.insert('issue', issueRow(7)));
    expect(out.log).toEqual(['remove 2', 'add 7']);
    expect(ids(take.fetch({}))).toEqual([1, 3, 7]);
  });

  test('removing the bound row with no replacement moves the bound back to the row before it', () => {
    const w = issues(1, 2, 3);
    const {take, out} = takeIssues(w, 3);
    w.commit(w.f.delete('issue', {id: 3}));
    w.commit(w.f.insert('issue', issueRow(4)), w.f.insert('issue', issueRow(5)));
    expect(out.log).toEqual(['remove 3', 'add 4']);
    expect(ids(take.fetch({}))).toEqual([1, 2, 4]);
  });

  test('with limit 0 every push is dropped', () => {
    const w = issues(1, 2);
    const {out} = takeIssues(w, 0);
    w.commit(w.f.insert('issue', issueRow(0)), w.f.delete('issue', {id: 1}));
    expect(out.log).toEqual([]);
  });
});

describe('a change that moves a row across the limit boundary', () => {
  test('out of the limit: the row is removed and the next row pulled in', () => {
    const w = issues(1, 2, 3, 4, 5);
    const {take, out} = takeIssues(w, 3, BY_MODIFIED);
    w.commit(w.f.update('issue', issueRow(2, {modified: 99})));
    expect(out.log).toEqual(['remove 2', 'add 4']);
    expect(ids(take.fetch({}))).toEqual([1, 3, 4]);
  });

  test('into the limit: the row is added and the old bound evicted', () => {
    const w = issues(1, 2, 3, 4, 5);
    const {take, out} = takeIssues(w, 3, BY_MODIFIED);
    w.commit(w.f.update('issue', issueRow(5, {modified: 5})));
    expect(out.log).toEqual(['add 5', 'remove 3']);
    expect(ids(take.fetch({}))).toEqual([5, 1, 2]);
  });

  test('within the limit past the bound: remove, refill, and the moved row is evicted', () => {
    const w = issues(1, 2, 3, 4, 5);
    const {take, out} = takeIssues(w, 3, BY_MODIFIED);
    w.commit(w.f.update('issue', issueRow(1, {modified: 45})));
    expect(out.log).toEqual(['remove 1', 'add 4']);
    expect(ids(take.fetch({}))).toEqual([2, 3, 4]);
  });

  test('during the move, each fetch returns exactly what downstream has been told', () => {
    const w = issues(1, 2, 3, 4, 5);
    const {take, out} = takeIssues(w, 3, BY_MODIFIED);
    const seen = fetchedDuringPushes(take, out);
    w.commit(w.f.update('issue', issueRow(5, {modified: 5})));
    expect(seen).toEqual([
      [5, 1, 2, 3],
      [5, 1, 2],
    ]);
  });
});

describe('per-partition limits (subqueries)', () => {
  /** Comments 100-102 on issue 1, 200-202 on issue 2, 300 on issue 3; two per issue. */
  function comments() {
    const w = operatorWorld(ISSUE_TABLES);
    w.seed(
      ...[100, 101, 102, 200, 201, 202, 300].map((id) =>
        w.f.insert('comment', {id, issueID: Math.floor(id / 100), body: ''}),
      ),
    );
    const take = new Take(w.sources.getSource('comment').connect(BY_ID), 2, ['issueID']);
    const out = new Recorder(take);
    const partition = (issueID: number) => ids(take.fetch({constraint: {issueID}}));
    return {w, take, out, partition};
  }

  test('each partition holds its own first N rows', () => {
    const {partition} = comments();
    expect([partition(1), partition(2), partition(3)]).toEqual([[100, 101], [200, 201], [300]]);
  });

  test('an add that evicts from a full partition leaves the others alone', () => {
    const {w, out, partition} = comments();
    partition(1);
    partition(2);
    w.commit(w.f.insert('comment', {id: 99, issueID: 1, body: ''}));
    expect(out.log).toEqual(['add 99', 'remove 101']);
    expect([partition(1), partition(2)]).toEqual([
      [99, 100],
      [200, 201],
    ]);
  });

  test('a remove refills from its own partition only', () => {
    const {w, out, partition} = comments();
    partition(1);
    partition(2);
    w.commit(w.f.delete('comment', {id: 100}));
    expect(out.log).toEqual(['remove 100', 'add 102']);
    expect([partition(1), partition(2)]).toEqual([
      [101, 102],
      [200, 201],
    ]);
  });

  test('pushes for a partition never fetched are dropped', () => {
    const {w, out, partition} = comments();
    partition(1);
    w.commit(w.f.insert('comment', {id: 99, issueID: 2, body: ''}));
    expect(out.log).toEqual([]);
    expect(partition(2)).toEqual([99, 200]);
  });

  test('during add-then-evict, a fetch of the partition returns what downstream has been told', () => {
    const {w, take, out, partition} = comments();
    partition(1);
    const seen = fetchedDuringPushes(take, out, {constraint: {issueID: 1}});
    w.commit(w.f.insert('comment', {id: 99, issueID: 1, body: ''}));
    expect(seen).toEqual([
      [99, 100, 101],
      [99, 100],
    ]);
  });
});

describe('child changes', () => {
  test('are passed on for rows within the limit and dropped past it', () => {
    const w = issues(1, 2, 3, 4);
    w.seed(w.f.insert('comment', {id: 100, issueID: 1, body: ''}));
    const join = new Join({
      parent: w.sources.getSource('issue').connect(BY_ID),
      child: w.sources.getSource('comment').connect(BY_ID),
      parentKey: ['id'],
      childKey: ['issueID'],
      relationshipName: 'comments',
      hidden: false,
    });
    const take = new Take(join, 2);
    const out = new Recorder(take);
    ids(take.fetch({}));
    w.commit(
      w.f.insert('comment', {id: 101, issueID: 2, body: ''}),
      w.f.insert('comment', {id: 103, issueID: 3, body: ''}),
    );
    expect(out.log).toEqual(['child 2 comments: add 101']);
  });
});
