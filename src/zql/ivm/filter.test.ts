import {describe, expect, test} from 'vitest';
import type {Condition, CorrelatedSubqueryCondition} from '../../protocol/ast.js';
import {
  ISSUE_TABLES,
  Recorder,
  ids,
  issueRow,
  operatorWorld,
  relIds,
  type OperatorWorld,
} from '../../../test/support/operator-harness.js';
import {Filter} from './filter.js';
import {Join} from './join.js';
import type {Change} from './operator.js';

const isOpen: Condition = {
  type: 'simple',
  op: '=',
  left: {type: 'column', name: 'open'},
  right: {type: 'literal', value: true},
};

function hasComments(op: 'EXISTS' | 'NOT EXISTS', limit?: number): CorrelatedSubqueryCondition {
  return {
    type: 'correlatedSubquery',
    op,
    related: {
      correlation: {parentField: ['id'], childField: ['issueID']},
      subquery: {table: 'comment', alias: 'zsubq_comments', limit},
    },
  };
}

/** Issues 1 (comments 100, 101), 2 (comment 102) and 3 (none); issue 2 is closed. */
function world(): OperatorWorld {
  const w = operatorWorld(ISSUE_TABLES);
  w.seed(
    w.f.insert('issue', issueRow(1)),
    w.f.insert('issue', issueRow(2, {open: 0})),
    w.f.insert('issue', issueRow(3)),
    w.f.insert('comment', {id: 100, issueID: 1, body: 'a'}),
    w.f.insert('comment', {id: 101, issueID: 1, body: 'b'}),
    w.f.insert('comment', {id: 102, issueID: 2, body: 'c'}),
  );
  return w;
}

/** issue ⋈ comments (relationship `comments`) filtered by `where`. */
function filterOverJoin(w: OperatorWorld, where: Condition) {
  const join = new Join({
    parent: w.sources.getSource('issue').connect([['id', 'asc']]),
    child: w.sources.getSource('comment').connect([['id', 'asc']]),
    parentKey: ['id'],
    childKey: ['issueID'],
    relationshipName: 'comments',
    hidden: false,
  });
  const filter = new Filter(join, where, () => 'comments');
  return {filter, out: new Recorder(filter)};
}

/** Each push's relationship `comments` as fetched inside the push. */
function commentsDuringPush(out: Recorder): unknown[][] {
  const seen: unknown[][] = [];
  out.onPush = (c: Change) => seen.push(relIds(c.node, 'comments'));
  return seen;
}

describe('simple conditions', () => {
  test('fetch returns only the rows that pass', () => {
    const w = world();
    const filter = new Filter(w.sources.getSource('issue').connect([['id', 'asc']]), isOpen, () => {
      throw new Error('no relationships');
    });
    expect(ids(filter.fetch({}))).toEqual([1, 3]);
  });

  test('an added row is pushed if it passes and dropped if not', () => {
    const w = world();
    const filter = new Filter(w.sources.getSource('issue').connect([['id', 'asc']]), isOpen, () => {
      throw new Error('no relationships');
    });
    const out = new Recorder(filter);
    w.commit(w.f.insert('issue', issueRow(4)), w.f.insert('issue', issueRow(5, {open: 0})));
    expect(out.log).toEqual(['add 4']);
  });

  test('an update that makes a row fail is pushed as its removal only', () => {
    const w = world();
    const filter = new Filter(w.sources.getSource('issue').connect([['id', 'asc']]), isOpen, () => {
      throw new Error('no relationships');
    });
    const out = new Recorder(filter);
    w.commit(w.f.update('issue', issueRow(1, {open: 0})));
    expect(out.log).toEqual(['remove 1']);
  });
});

describe('EXISTS', () => {
  test('fetch returns the parents with at least one child', () => {
    const {filter} = filterOverJoin(world(), hasComments('EXISTS'));
    expect(ids(filter.fetch({}))).toEqual([1, 2]);
  });

  test("a parent's first child turns into an add of the parent, carrying that child", () => {
    const w = world();
    const {out} = filterOverJoin(w, hasComments('EXISTS'));
    const seen = commentsDuringPush(out);
    w.commit(w.f.insert('comment', {id: 103, issueID: 3, body: 'd'}));
    expect(out.log).toEqual(['add 3']);
    expect(seen).toEqual([[103]]);
  });

  test('another child for a passing parent is passed on as a child change', () => {
    const w = world();
    const {out} = filterOverJoin(w, hasComments('EXISTS'));
    w.commit(w.f.insert('comment', {id: 103, issueID: 1, body: 'd'}));
    expect(out.log).toEqual(['child 1 comments: add 103']);
  });

  test("removing a parent's last child turns into a remove carrying the removed child", () => {
    const w = world();
    const {out} = filterOverJoin(w, hasComments('EXISTS'));
    const seen = commentsDuringPush(out);
    w.commit(w.f.delete('comment', {id: 102}));
    expect(out.log).toEqual(['remove 2']);
    expect(seen).toEqual([[102]]);
  });

  test('removing one of several children is passed on as a child change', () => {
    const w = world();
    const {out} = filterOverJoin(w, hasComments('EXISTS'));
    w.commit(w.f.delete('comment', {id: 100}));
    expect(out.log).toEqual(['child 1 comments: remove 100']);
  });

  test('a child change of a parent failing another AND-ed condition is dropped', () => {
    const w = world();
    const {out} = filterOverJoin(w, {type: 'and', conditions: [isOpen, hasComments('EXISTS')]});
    w.commit(
      w.f.insert('comment', {id: 103, issueID: 2, body: 'd'}),
      w.f.delete('comment', {id: 102}),
    );
    expect(out.log).toEqual([]);
  });
});

describe('NOT EXISTS', () => {
  test('fetch returns the parents without children', () => {
    const {filter} = filterOverJoin(world(), hasComments('NOT EXISTS'));
    expect(ids(filter.fetch({}))).toEqual([3]);
  });

  test("a parent's first child turns into a remove of the parent, with no children as before", () => {
    const w = world();
    const {out} = filterOverJoin(w, hasComments('NOT EXISTS'));
    const seen = commentsDuringPush(out);
    w.commit(w.f.insert('comment', {id: 103, issueID: 3, body: 'd'}));
    expect(out.log).toEqual(['remove 3']);
    expect(seen).toEqual([[]]);
  });

  test("removing a parent's last child turns into an add of the parent", () => {
    const w = world();
    const {out} = filterOverJoin(w, hasComments('NOT EXISTS'));
    const seen = commentsDuringPush(out);
    w.commit(w.f.delete('comment', {id: 102}));
    expect(out.log).toEqual(['add 2']);
    expect(seen).toEqual([[]]);
  });

  test('a child change of a parent that keeps children is dropped', () => {
    const w = world();
    const {out} = filterOverJoin(w, hasComments('NOT EXISTS'));
    w.commit(
      w.f.delete('comment', {id: 100}),
      w.f.insert('comment', {id: 103, issueID: 2, body: 'd'}),
    );
    expect(out.log).toEqual([]);
  });
});

describe('OR of EXISTS and a simple condition', () => {
  const openOrCommented: Condition = {type: 'or', conditions: [isOpen, hasComments('EXISTS')]};

  test('fetch returns the parents passing either', () => {
    const w = world();
    w.seed(w.f.insert('issue', issueRow(4, {open: 0})));
    const {filter} = filterOverJoin(w, openOrCommented);
    expect(ids(filter.fetch({}))).toEqual([1, 2, 3]);
  });

  test('a parent passing the simple condition stays when it loses its last child', () => {
    const w = world();
    w.seed(w.f.delete('comment', {id: 101}));
    const {out} = filterOverJoin(w, openOrCommented);
    w.commit(w.f.delete('comment', {id: 100}));
    expect(out.log).toEqual(['child 1 comments: remove 100']);
  });

  test('a parent failing the simple condition goes when it loses its last child', () => {
    const w = world();
    const {out} = filterOverJoin(w, openOrCommented);
    w.commit(w.f.delete('comment', {id: 102}));
    expect(out.log).toEqual(['remove 2']);
  });

  test('a parent failing the simple condition comes when it gains a first child', () => {
    const w = world();
    w.seed(w.f.insert('issue', issueRow(4, {open: 0})));
    const {out} = filterOverJoin(w, openOrCommented);
    w.commit(w.f.insert('comment', {id: 103, issueID: 4, body: 'd'}));
    expect(out.log).toEqual(['add 4']);
  });
});

describe('a subquery with limit 0 is decided without a join', () => {
  const noJoin = () => {
    throw new Error('the filter asked for a join');
  };

  test('EXISTS over it is false', () => {
    const w = world();
    const source = w.sources.getSource('issue').connect([['id', 'asc']]);
    const filter = new Filter(source, hasComments('EXISTS', 0), noJoin);
    expect(ids(filter.fetch({}))).toEqual([]);
  });

  test('NOT EXISTS over it is true', () => {
    const w = world();
    const source = w.sources.getSource('issue').connect([['id', 'asc']]);
    const filter = new Filter(source, hasComments('NOT EXISTS', 0), noJoin);
    expect(ids(filter.fetch({}))).toEqual([1, 2, 3]);
  });

  test('pushes are judged by the same constant', () => {
    const w = world();
    const source = w.sources.getSource('issue').connect([['id', 'asc']]);
    const out = new Recorder(new Filter(source, hasComments('EXISTS', 0), noJoin));
    w.commit(w.f.insert('issue', issueRow(4)), w.f.delete('issue', {id: 1}));
    expect(out.log).toEqual([]);
  });
});
