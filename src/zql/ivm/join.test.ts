import {describe, expect, test} from 'vitest';
import {
  ISSUE_TABLES,
  Recorder,
  issueRow,
  operatorWorld,
  relIds,
  type OperatorWorld,
} from '../../../test/support/operator-harness.js';
import type {Node} from './data.js';
import {Join} from './join.js';

/**
 * Issues 1 and 2 owned by user 7, issue 3 by user 8, issue 4 unowned; comments 100 and 101 on
 * issue 1, 102 on issue 2.
 */
function world(): OperatorWorld {
  const w = operatorWorld(ISSUE_TABLES);
  w.seed(
    w.f.insert('issue', issueRow(1, {ownerID: 7})),
    w.f.insert('issue', issueRow(2, {ownerID: 7})),
    w.f.insert('issue', issueRow(3, {ownerID: 8})),
    w.f.insert('issue', issueRow(4)),
    w.f.insert('user', {id: 7, name: 'seven'}),
    w.f.insert('comment', {id: 100, issueID: 1, body: 'a'}),
    w.f.insert('comment', {id: 101, issueID: 1, body: 'b'}),
    w.f.insert('comment', {id: 102, issueID: 2, body: 'c'}),
  );
  return w;
}

/** issue ⋈ comment on issue.id = comment.issueID, as relationship `comments`. */
function issueComments(w: OperatorWorld) {
  const join = new Join({
    parent: w.sources.getSource('issue').connect([['id', 'asc']]),
    child: w.sources.getSource('comment').connect([['id', 'asc']]),
    parentKey: ['id'],
    childKey: ['issueID'],
    relationshipName: 'comments',
    hidden: false,
  });
  return {join, out: new Recorder(join)};
}

/** issue ⋈ user on issue.ownerID = user.id, as relationship `owner` (several parents per child). */
function issueOwner(w: OperatorWorld) {
  const join = new Join({
    parent: w.sources.getSource('issue').connect([['id', 'asc']]),
    child: w.sources.getSource('user').connect([['id', 'asc']]),
    parentKey: ['ownerID'],
    childKey: ['id'],
    relationshipName: 'owner',
    hidden: false,
  });
  return {join, out: new Recorder(join)};
}

/** `parent id → relationship ids` for every parent, fetched through `join`. */
function tree(join: Join, relationship: string): Record<string, unknown[]> {
  const t: Record<string, unknown[]> = {};
  for (const n of join.fetch({})) t[String(n.row.id)] = relIds(n, relationship);
  return t;
}

describe('fetch', () => {
  test('attaches to each parent the children whose key equals its key', () => {
    const {join} = issueComments(world());
    expect(tree(join, 'comments')).toEqual({1: [100, 101], 2: [102], 3: [], 4: []});
  });

  test('a parent with a null key has no children, even children whose key is null', () => {
    const w = world();
    w.seed(
      w.f.insert('comment', {id: 200, issueID: null, body: 'x'}),
      w.f.insert('comment', {id: 201, issueID: null, body: 'y'}),
    );
    const siblings = new Join({
      parent: w.sources.getSource('comment').connect([['id', 'asc']]),
      child: w.sources.getSource('comment').connect([['id', 'asc']]),
      parentKey: ['issueID'],
      childKey: ['issueID'],
      relationshipName: 'siblings',
      hidden: false,
    });
    expect(tree(siblings, 'siblings')).toEqual({
      100: [100, 101],
      101: [100, 101],
      102: [102],
      200: [],
      201: [],
    });
  });

  test('a relationship is fetched anew on each call', () => {
    const w = world();
    const {join} = issueComments(w);
    const [first] = join.fetch({}) as Iterable<Node>;
    w.commit(w.f.insert('comment', {id: 103, issueID: 1, body: 'd'}));
    expect(relIds(first!, 'comments')).toEqual([100, 101, 103]);
  });

  test('keys of different lengths are refused', () => {
    const w = world();
    expect(
      () =>
        new Join({
          parent: w.sources.getSource('issue').connect([['id', 'asc']]),
          child: w.sources.getSource('comment').connect([['id', 'asc']]),
          parentKey: ['id', 'ownerID'],
          childKey: ['issueID'],
          relationshipName: 'comments',
          hidden: false,
        }),
    ).toThrow(/keys of equal, non-zero length/);
  });
});

describe('parent changes', () => {
  test('pass through with the relationship attached', () => {
    const w = world();
    w.seed(w.f.insert('comment', {id: 900, issueID: 9, body: 'early'}));
    const {out} = issueComments(w);
    w.commit(w.f.insert('issue', issueRow(9)));
    expect(out.log).toEqual(['add 9']);
    expect(relIds(out.changes[0]!.node, 'comments')).toEqual([900]);
  });

  test('a change of its join key is a remove with the old children then an add with the new', () => {
    const w = world();
    w.seed(w.f.insert('user', {id: 8, name: 'eight'}));
    const {out} = issueOwner(w);
    const seen: string[] = [];
    out.onPush = (c) => seen.push(`${c.type} ${JSON.stringify(relIds(c.node, 'owner'))}`);
    w.commit(w.f.update('issue', issueRow(1, {ownerID: 8})));
    expect(out.log).toEqual(['remove 1', 'add 1']);
    expect(seen).toEqual(['remove [7]', 'add [8]']);
  });
});

describe('child changes', () => {
  test('a child add becomes a child change of every parent with its key', () => {
    const w = world();
    w.seed(w.f.delete('user', {id: 7}));
    const {out} = issueOwner(w);
    w.commit(w.f.insert('user', {id: 7, name: 'seven'}));
    expect(out.log).toEqual(['child 1 owner: add 7', 'child 2 owner: add 7']);
  });

  test('a child remove becomes a child change of every parent with its key', () => {
    const w = world();
    const {out} = issueOwner(w);
    w.commit(w.f.delete('user', {id: 7}));
    expect(out.log).toEqual(['child 1 owner: remove 7', 'child 2 owner: remove 7']);
  });

  test('a child whose key no parent has is dropped', () => {
    const w = world();
    const {out} = issueComments(w);
    w.commit(w.f.insert('comment', {id: 500, issueID: 5, body: 'orphan'}));
    expect(out.log).toEqual([]);
  });

  test('a child with a null key is dropped', () => {
    const w = world();
    const {out} = issueComments(w);
    w.commit(w.f.insert('comment', {id: 500, issueID: null, body: 'orphan'}));
    expect(out.log).toEqual([]);
  });

  test("changing a child's join key moves it: removed from the old parent, added to the new", () => {
    const w = world();
    const {join, out} = issueComments(w);
    w.commit(w.f.update('comment', {id: 100, issueID: 3, body: 'a'}));
    expect(out.log).toEqual(['child 1 comments: remove 100', 'child 3 comments: add 100']);
    expect(tree(join, 'comments')).toEqual({1: [101], 2: [102], 3: [100], 4: []});
  });

  test("during a join-key change, each push's relationship shows the change so far", () => {
    const w = world();
    const {join, out} = issueComments(w);
    const seen: Record<string, unknown[]>[] = [];
    out.onPush = () => seen.push(tree(join, 'comments'));
    w.commit(w.f.update('comment', {id: 100, issueID: 3, body: 'a'}));
    expect(seen).toEqual([
      {1: [101], 2: [102], 3: [], 4: []},
      {1: [101], 2: [102], 3: [100], 4: []},
    ]);
  });
});

describe('fan-out of a child change to several parents', () => {
  test('a parent after the one being pushed does not show an added child yet', () => {
    const w = world();
    w.seed(w.f.delete('user', {id: 7}));
    const {join, out} = issueOwner(w);
    const seen: Record<string, unknown[]>[] = [];
    out.onPush = () => seen.push(tree(join, 'owner'));
    w.commit(w.f.insert('user', {id: 7, name: 'seven'}));
    expect(out.log).toEqual(['child 1 owner: add 7', 'child 2 owner: add 7']);
    expect(seen).toEqual([
      {1: [7], 2: [], 3: [], 4: []},
      {1: [7], 2: [7], 3: [], 4: []},
    ]);
  });

  test('a parent after the one being pushed still shows a removed child', () => {
    const w = world();
    const {join, out} = issueOwner(w);
    const seen: Record<string, unknown[]>[] = [];
    out.onPush = () => seen.push(tree(join, 'owner'));
    w.commit(w.f.delete('user', {id: 7}));
    expect(seen).toEqual([
      {1: [], 2: [7], 3: [], 4: []},
      {1: [], 2: [], 3: [], 4: []},
    ]);
  });

  test('a parent after the one being pushed shows a removed child in its place among others', () => {
    const w = world();
    w.seed(w.f.insert('comment', {id: 103, issueID: 1, body: 'd'}));
    const siblings = new Join({
      parent: w.sources.getSource('comment').connect([['id', 'asc']]),
      child: w.sources.getSource('comment').connect([['id', 'asc']]),
      parentKey: ['issueID'],
      childKey: ['issueID'],
      relationshipName: 'siblings',
      hidden: false,
    });
    const out = new Recorder(siblings);
    const seen: Record<string, unknown[]>[] = [];
    out.onPush = (c) => c.type === 'child' && seen.push(tree(siblings, 'siblings'));
    w.commit(w.f.delete('comment', {id: 100}));
    expect(out.log).toEqual([
      'remove 100',
      'child 101 siblings: remove 100',
      'child 103 siblings: remove 100',
    ]);
    expect(seen).toEqual([
      {101: [101, 103], 102: [102], 103: [100, 101, 103]},
      {101: [101, 103], 102: [102], 103: [101, 103]},
    ]);
  });

  test('after the fan-out, every parent shows the change', () => {
    const w = world();
    const {join} = issueOwner(w);
    w.commit(w.f.delete('user', {id: 7}));
    expect(tree(join, 'owner')).toEqual({1: [], 2: [], 3: [], 4: []});
  });
});
