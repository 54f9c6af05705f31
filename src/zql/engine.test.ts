import {expect, test} from 'vitest';
import type {AST} from '../protocol/ast.js';
import {replicaFixture, type ReplicaFixture} from '../../test/support/replica-fixture.js';
import {buildPipeline, QueryRows, ReplicaSources} from './index.js';

/** Hydrates `ast`, then returns a function that advances and reports the row patches. */
function maintain(f: ReplicaFixture, ast: AST) {
  const sources = new ReplicaSources(f.db);
  const input = buildPipeline(ast, sources);
  const rows = new QueryRows(input);
  let version = sources.read((v) => {
    for (const _ of rows.hydrate());
    return v;
  });
  const ids = () => [...input.fetch({})].map((n) => n.row.id);
  return {
    rows,
    hydrated: rows.takeChanges(),
    view: () => sources.read(ids),
    advance() {
      const gen = sources.advance(version);
      let r = gen.next();
      while (!r.done) r = gen.next();
      if (r.value.kind !== 'changes') throw new Error('unexpected reset');
      version = r.value.to;
      return rows
        .takeChanges()
        .map((p) => `${p.op} ${p.table} ${JSON.stringify(Object.values(p.key))}`)
        .sort();
    },
  };
}

function issues() {
  const f = replicaFixture({
    issue: {
      columns: {id: 'int4', title: 'text', open: 'bool', modified: 'int4'},
      primaryKey: ['id'],
    },
    comment: {columns: {id: 'int4', issueID: 'int4', body: 'text'}, primaryKey: ['id']},
  });
  f.tx(
    ...[1, 2, 3, 4].map((id) =>
      f.insert('issue', {id, title: `t${id}`, open: 1, modified: id * 10}),
    ),
    f.insert('comment', {id: 100, issueID: 1, body: 'a'}),
    f.insert('comment', {id: 101, issueID: 1, body: 'b'}),
    f.insert('comment', {id: 102, issueID: 2, body: 'c'}),
  );
  return f;
}

const openByModified: AST = {
  table: 'issue',
  where: {
    type: 'simple',
    op: '=',
    left: {type: 'column', name: 'open'},
    right: {type: 'literal', value: true},
  },
  orderBy: [['modified', 'desc']],
  limit: 2,
};

test('take: a row that moves across the limit boundary replaces the bound row', () => {
  const f = issues();
  const q = maintain(f, openByModified);
  expect(q.view()).toEqual([4, 3]);
  f.tx(f.update('issue', {id: 1, title: 't1', open: 1, modified: 99}));
  expect(q.advance()).toEqual(['del issue [3]', 'put issue [1]']);
  expect(q.view()).toEqual([1, 4]);
  f.tx(f.update('issue', {id: 1, title: 't1', open: 1, modified: 1}));
  expect(q.advance()).toEqual(['del issue [1]', 'put issue [3]']);
  expect(q.view()).toEqual([4, 3]);
});

test('take: removing a row inside the limit pulls in the next one; filters apply to it', () => {
  const f = issues();
  const q = maintain(f, openByModified);
  f.tx(
    f.update('issue', {id: 3, title: 't3', open: 0, modified: 30}),
    f.update('issue', {id: 2, title: 't2', open: 0, modified: 20}),
  );
  expect(q.advance()).toEqual(['del issue [3]', 'put issue [1]']);
  expect(q.view()).toEqual([4, 1]);
});

test("join: changing a child row's join key moves it between parents", () => {
  const f = issues();
  const ast: AST = {
    table: 'issue',
    orderBy: [['id', 'asc']],
    related: [
      {
        correlation: {parentField: ['id'], childField: ['issueID']},
        subquery: {table: 'comment', alias: 'comments', orderBy: [['id', 'asc']], limit: 1},
      },
    ],
  };
  const q = maintain(f, ast);
  expect([...q.rows.rows().keys()].sort()).toEqual([
    'comment/[100]',
    'comment/[102]',
    'issue/[1]',
    'issue/[2]',
    'issue/[3]',
    'issue/[4]',
  ]);
  // Comment 100 moves from issue 1 to issue 3: issue 1's first comment becomes 101.
  f.tx(f.update('comment', {id: 100, issueID: 3, body: 'a'}));
  expect(q.advance()).toEqual(['put comment [100]', 'put comment [101]']);
  expect([...q.rows.rows().keys()].sort()).toEqual([
    'comment/[100]',
    'comment/[101]',
    'comment/[102]',
    'issue/[1]',
    'issue/[2]',
    'issue/[3]',
    'issue/[4]',
  ]);
});

test('exists: a parent appears when its first child arrives and goes with its last', () => {
  const f = issues();
  const ast: AST = {
    table: 'issue',
    where: {
      type: 'correlatedSubquery',
      op: 'EXISTS',
      related: {
        correlation: {parentField: ['id'], childField: ['issueID']},
        subquery: {table: 'comment', alias: 'zsubq_comments'},
      },
    },
  };
  const q = maintain(f, ast);
  expect(q.view()).toEqual([1, 2]);
  f.tx(f.insert('comment', {id: 103, issueID: 4, body: 'd'}));
  expect(q.advance()).toEqual(['put comment [103]', 'put issue [4]']);
  f.tx(f.delete('comment', {id: 102}));
  expect(q.advance()).toEqual(['del comment [102]', 'del issue [2]']);
  expect(q.view()).toEqual([1, 4]);
});

test('a primary-key change of a root row is a removal and an addition', () => {
  const f = issues();
  const q = maintain(f, {table: 'issue', orderBy: [['id', 'asc']]});
  f.tx(f.update('issue', {id: 9, title: 't1', open: 1, modified: 10}, {id: 1}));
  expect(q.advance()).toEqual(['del issue [1]', 'put issue [9]']);
  expect(q.view()).toEqual([2, 3, 4, 9]);
});

test('a paused hydration resumes on its own snapshot while the replica moves on', async () => {
  const {mkdtempSync} = await import('node:fs');
  const {tmpdir} = await import('node:os');
  const path = await import('node:path');
  const Database = (await import('better-sqlite3')).default;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'zql-')), 'replica.db');
  const f = issues();
  await f.db.backup(file);
  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  const reader = new Database(file, {readonly: true});
  const sources = new ReplicaSources(reader);
  const rows = new QueryRows(buildPipeline({table: 'issue', orderBy: [['id', 'asc']]}, sources));
  const slices = sources.readSliced(rows.hydrate());
  slices.next(); // one root row hydrated, then paused
  writer.prepare('DELETE FROM issue WHERE id = 4').run();
  for (let r = slices.next(); !r.done; r = slices.next());
  expect([...rows.rows().keys()].sort()).toEqual([
    'issue/[1]',
    'issue/[2]',
    'issue/[3]',
    'issue/[4]',
  ]);
  expect(sources.rowsRead()).toBe(4);
});

test('hydration pauses every few rows read, even when a filter drops every one of them', () => {
  const f = replicaFixture({item: {columns: {id: 'int4', v: 'text'}, primaryKey: ['id']}});
  f.tx(...Array.from({length: 640}, (_, i) => f.insert('item', {id: i, v: `v${i}`})));
  const sources = new ReplicaSources(f.db);
  const rows = new QueryRows(
    buildPipeline(
      {
        table: 'item',
        where: {
          type: 'simple',
          op: 'LIKE',
          left: {type: 'column', name: 'v'},
          right: {type: 'literal', value: '%none%'},
        },
        orderBy: [['id', 'asc']],
      },
      sources,
    ),
  );
  const pauses = sources.read(() => {
    let n = 0;
    for (const _ of rows.hydrate()) n++;
    return n;
  });
  expect(pauses).toBeGreaterThanOrEqual(10);
  expect(rows.takeChanges()).toEqual([]);
});
