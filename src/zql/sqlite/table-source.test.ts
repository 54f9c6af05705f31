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
import type {Node} from '../ivm/data.js';
import type {FetchRequest, Input} from '../ivm/operator.js';

/** Issues 1, 2, 3 (modified 10, 20, 30); 1 and 2 owned by user 7. */
function world(): OperatorWorld {
  const w = operatorWorld(ISSUE_TABLES);
  w.seed(
    w.f.insert('issue', issueRow(1, {ownerID: 7})),
    w.f.insert('issue', issueRow(2, {ownerID: 7})),
    w.f.insert('issue', issueRow(3)),
  );
  return w;
}

const titles = (nodes: Iterable<Node>) => [...nodes].map((n) => `${n.row.id}:${n.row.title}`);

/** What `input` fetches (as `id:title`) inside each push `out` receives. */
function fetchedDuringPushes(out: Recorder, input: Input, req: FetchRequest = {}): string[][] {
  const seen: string[][] = [];
  out.onPush = () => seen.push(titles(input.fetch(req)));
  return seen;
}

describe('push', () => {
  test('an update is pushed as a remove of the old row then an add of the new', () => {
    const w = world();
    const out = new Recorder(w.sources.getSource('issue').connect(BY_ID));
    w.commit(w.f.update('issue', issueRow(2, {title: 'new'})));
    expect(out.changes.map((c) => `${c.type} ${c.node.row.id}:${c.node.row.title}`)).toEqual([
      'remove 2:t2',
      'add 2:new',
    ]);
  });

  test('a primary-key change is a remove of the old key and an add of the new', () => {
    const w = world();
    const out = new Recorder(w.sources.getSource('issue').connect(BY_ID));
    w.commit(w.f.update('issue', issueRow(9, {title: 't2'}), {id: 2}));
    expect(out.log).toEqual(['remove 2', 'add 9']);
  });

  test('a row changed several times since the last version is pushed once, old to newest', () => {
    const w = world();
    const out = new Recorder(w.sources.getSource('issue').connect(BY_ID));
    w.f.tx(w.f.update('issue', issueRow(2, {title: 'a'})));
    w.commit(w.f.update('issue', issueRow(2, {title: 'b'})));
    expect(out.changes.map((c) => `${c.type} ${c.node.row.title}`)).toEqual(['remove t2', 'add b']);
  });

  test('a row inserted and deleted since the last version is not pushed', () => {
    const w = world();
    const out = new Recorder(w.sources.getSource('issue').connect(BY_ID));
    w.f.tx(w.f.insert('issue', issueRow(5)));
    w.commit(w.f.delete('issue', {id: 5}));
    expect(out.log).toEqual([]);
  });
});

describe('connection filters', () => {
  const open = [
    {
      type: 'simple' as const,
      op: '=' as const,
      left: {type: 'column' as const, name: 'open'},
      right: {type: 'literal' as const, value: true},
    },
  ];

  test('fetch returns only matching rows', () => {
    const w = world();
    w.seed(w.f.update('issue', issueRow(2, {open: 0})));
    const conn = w.sources.getSource('issue').connect(BY_ID, open);
    expect(ids(conn.fetch({}))).toEqual([1, 3]);
  });

  test('non-matching rows are dropped on push', () => {
    const w = world();
    const out = new Recorder(w.sources.getSource('issue').connect(BY_ID, open));
    w.commit(
      w.f.update('issue', issueRow(1, {open: 0})),
      w.f.insert('issue', issueRow(5, {open: 0})),
      w.f.insert('issue', issueRow(6)),
    );
    expect(out.log).toEqual(['remove 1', 'add 6']);
  });
});

describe('pushed-down filters agree with the JS predicates', () => {
  /**
   * SQLite makes `NULL NOT IN (<empty list>)` true; the pushed-down filter must still reject null
   * values as the JS predicate does (fact sheet §8.6), or fetch and push would disagree.
   */
  test('NOT IN an empty list returns no row whose value is null', () => {
    const w = world();
    const conn = w.sources.getSource('issue').connect(BY_ID, [
      {
        type: 'simple',
        op: 'NOT IN',
        left: {type: 'column', name: 'ownerID'},
        right: {type: 'literal', value: []},
      },
    ]);
    expect(ids(conn.fetch({}))).toEqual([1, 2]);
  });

  test('NOT IN a non-empty list returns no row whose value is null', () => {
    const w = world();
    const conn = w.sources.getSource('issue').connect(BY_ID, [
      {
        type: 'simple',
        op: 'NOT IN',
        left: {type: 'column', name: 'ownerID'},
        right: {type: 'literal', value: [8]},
      },
    ]);
    expect(ids(conn.fetch({}))).toEqual([1, 2]);
  });
});

describe('a connection sees a change only once it has been pushed to it', () => {
  test('two connections on one table see an update in push order', () => {
    const w = world();
    const source = w.sources.getSource('issue');
    const c1 = source.connect(BY_ID);
    const c2 = source.connect(BY_ID);
    const seen: string[] = [];
    const watch = (name: string, out: Recorder) =>
      (out.onPush = (c) =>
        seen.push(
          `${name} ${c.type}: c1=${titles(c1.fetch({})).join()} c2=${titles(c2.fetch({})).join()}`,
        ));
    watch('c1', new Recorder(c1));
    watch('c2', new Recorder(c2));
    w.commit(w.f.update('issue', issueRow(2, {title: 'new'})));
    expect(seen).toEqual([
      'c1 remove: c1=1:t1,3:t3 c2=1:t1,2:t2,3:t3',
      'c2 remove: c1=1:t1,3:t3 c2=1:t1,3:t3',
      'c1 add: c1=1:t1,2:new,3:t3 c2=1:t1,3:t3',
      'c2 add: c1=1:t1,2:new,3:t3 c2=1:t1,2:new,3:t3',
    ]);
  });

  test('rows changed later in the advancement show their old image at their old position', () => {
    const w = world();
    const conn = w.sources.getSource('issue').connect(BY_MODIFIED);
    const out = new Recorder(conn);
    const seen = fetchedDuringPushes(out, conn);
    w.commit(
      w.f.update('issue', issueRow(1, {title: 'x', modified: 25})),
      w.f.update('issue', issueRow(3, {title: 'y', modified: 5})),
    );
    expect(seen).toEqual([
      ['2:t2', '3:t3'],
      ['2:t2', '1:x', '3:t3'],
      ['2:t2', '1:x'],
      ['3:y', '2:t2', '1:x'],
    ]);
  });

  test('a row inserted later in the advancement is absent, one deleted later present', () => {
    const w = world();
    const conn = w.sources.getSource('issue').connect(BY_ID);
    const seen = fetchedDuringPushes(new Recorder(conn), conn);
    w.commit(
      w.f.update('issue', issueRow(2, {title: 'x'})),
      w.f.insert('issue', issueRow(4)),
      w.f.delete('issue', {id: 1}),
    );
    expect(seen[0]).toEqual(['1:t1', '3:t3']);
  });

  test('a constrained fetch sees the old images of rows not yet pushed that match it', () => {
    const w = world();
    const conn = w.sources.getSource('issue').connect(BY_ID);
    const seen = fetchedDuringPushes(new Recorder(conn), conn, {constraint: {ownerID: 7}});
    w.commit(
      w.f.update('issue', issueRow(1, {ownerID: 7, title: 'x'})),
      w.f.update('issue', issueRow(2, {ownerID: 8})),
      w.f.update('issue', issueRow(3, {ownerID: 7})),
    );
    expect(seen).toEqual([['2:t2'], ['1:x', '2:t2'], ['1:x'], ['1:x'], ['1:x'], ['1:x', '3:t3']]);
  });

  test('a reverse fetch from a start merges old images in reverse order', () => {
    const w = world();
    w.seed(w.f.insert('issue', issueRow(4)), w.f.insert('issue', issueRow(5)));
    const conn = w.sources.getSource('issue').connect(BY_ID);
    const req: FetchRequest = {start: {row: {id: 5}, basis: 'after'}, reverse: true};
    const seen = fetchedDuringPushes(new Recorder(conn), conn, req);
    w.commit(
      w.f.update('issue', issueRow(1, {title: 'x'})),
      w.f.update('issue', issueRow(3, {title: 'y'})),
    );
    expect(seen[0]).toEqual(['4:t4', '3:t3', '2:t2']);
  });

  test('after a connection is destroyed, old and new connections still see changes in order', () => {
    const w = world();
    const source = w.sources.getSource('issue');
    const gone = source.connect(BY_ID);
    const c1 = source.connect(BY_ID);
    const goneOut = new Recorder(gone);
    gone.destroy();
    const c2 = source.connect(BY_ID);
    const c2Out = new Recorder(c2);
    const seen = fetchedDuringPushes(new Recorder(c1), c2);
    w.commit(w.f.delete('issue', {id: 2}));
    expect(goneOut.log).toEqual([]);
    expect(c2Out.log).toEqual(['remove 2']);
    expect(seen).toEqual([['1:t1', '2:t2', '3:t3']]);
  });

  test('after the advancement every connection reads the head', () => {
    const w = world();
    const source = w.sources.getSource('issue');
    const c1 = source.connect(BY_ID);
    new Recorder(c1);
    w.commit(w.f.delete('issue', {id: 2}), w.f.insert('issue', issueRow(4)));
    expect(ids(c1.fetch({}))).toEqual([1, 3, 4]);
    expect(source.overlay.size).toBe(0);
  });
});
