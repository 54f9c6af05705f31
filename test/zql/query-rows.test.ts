import {describe, expect, test} from 'vitest';
import type {AST, System} from '../../src/protocol/ast.js';
import {buildPipeline, QueryRows, type RowPatch} from '../../src/zql/index.js';
import {
  ISSUE_TABLES,
  issueRow,
  operatorWorld,
  type OperatorWorld,
} from '../support/operator-harness.js';

/** Issues 1 and 2 owned by user 7, issue 3 by user 8 (who does not exist); comment 100 on 1. */
function world(): OperatorWorld {
  const w = operatorWorld(ISSUE_TABLES);
  w.seed(
    w.f.insert('issue', issueRow(1, {ownerID: 7})),
    w.f.insert('issue', issueRow(2, {ownerID: 7})),
    w.f.insert('issue', issueRow(3, {ownerID: 8})),
    w.f.insert('user', {id: 7, name: 'seven'}),
    w.f.insert('comment', {id: 100, issueID: 1, body: 'a'}),
  );
  return w;
}

const issuesWithOwner: AST = {
  table: 'issue',
  orderBy: [['id', 'asc']],
  related: [
    {
      correlation: {parentField: ['ownerID'], childField: ['id']},
      subquery: {table: 'user', alias: 'owner', orderBy: [['id', 'asc']]},
    },
  ],
};

function issuesWhoseOwnerExists(system: System): AST {
  return {
    table: 'issue',
    orderBy: [['id', 'asc']],
    where: {
      type: 'correlatedSubquery',
      op: 'EXISTS',
      related: {
        system,
        correlation: {parentField: ['ownerID'], childField: ['id']},
        subquery: {table: 'user', alias: 'zsubq_owner', orderBy: [['id', 'asc']]},
      },
    },
  };
}

/** Hydrates `ast` over the world's replica; `patches()` takes the changes as `op table [key]`. */
function hydrate(w: OperatorWorld, ast: AST) {
  const rows = new QueryRows(buildPipeline(ast, w.sources));
  w.sources.read(() => {
    for (const _ of rows.hydrate());
  });
  const patches = () => rows.takeChanges().map(describePatch).sort();
  return {rows, patches};
}

function describePatch(p: RowPatch): string {
  return `${p.op} ${p.table} ${JSON.stringify(Object.values(p.key))}`;
}

describe('takeChanges', () => {
  test('after hydration reports a put for every row of the result tree', () => {
    const {patches} = hydrate(world(), issuesWithOwner);
    expect(patches()).toEqual(['put issue [1]', 'put issue [2]', 'put issue [3]', 'put user [7]']);
  });

  test('reports each change once', () => {
    const {patches} = hydrate(world(), issuesWithOwner);
    patches();
    expect(patches()).toEqual([]);
  });

  test('reports a changed row as a put of its new contents', () => {
    const w = world();
    const {rows, patches} = hydrate(w, issuesWithOwner);
    patches();
    w.commit(w.f.update('user', {id: 7, name: 'SEVEN'}));
    const changes = rows.takeChanges();
    expect(changes.map(describePatch)).toEqual(['put user [7]']);
    expect(changes[0]!.row).toMatchObject({id: 7, name: 'SEVEN'});
  });

  test('reports a removed row as a del', () => {
    const w = world();
    const {patches} = hydrate(w, issuesWithOwner);
    patches();
    w.commit(w.f.delete('issue', {id: 3}));
    expect(patches()).toEqual(['del issue [3]']);
  });

  test('does not report a row that came and went between two calls', () => {
    const w = world();
    const {patches} = hydrate(w, issuesWithOwner);
    patches();
    w.commit(w.f.insert('issue', issueRow(4)));
    w.commit(w.f.delete('issue', {id: 4}));
    expect(patches()).toEqual([]);
  });
});

describe('reference counting', () => {
  test('a row referenced twice stays until both references go', () => {
    const w = world();
    const {rows, patches} = hydrate(w, issuesWithOwner);
    patches();
    w.commit(w.f.delete('issue', {id: 1}));
    expect(patches()).toEqual(['del issue [1]']);
    expect(rows.rows().has('user/[7]')).toBe(true);
    w.commit(w.f.delete('issue', {id: 2}));
    expect(patches()).toEqual(['del issue [2]', 'del user [7]']);
  });
});

describe('EXISTS subqueries', () => {
  test('the children of an app EXISTS condition are synced', () => {
    const w = world();
    const {patches} = hydrate(w, issuesWhoseOwnerExists('client'));
    expect(patches()).toEqual(['put issue [1]', 'put issue [2]', 'put user [7]']);
    w.commit(w.f.insert('user', {id: 8, name: 'eight'}));
    expect(patches()).toEqual(['put issue [3]', 'put user [8]']);
  });

  test('the rows of a permission subquery are never synced, even when they change', () => {
    const w = world();
    const {patches} = hydrate(w, issuesWhoseOwnerExists('permissions'));
    expect(patches()).toEqual(['put issue [1]', 'put issue [2]']);
    w.commit(w.f.insert('user', {id: 8, name: 'eight'}));
    expect(patches()).toEqual(['put issue [3]']);
    w.commit(w.f.update('user', {id: 7, name: 'SEVEN'}));
    expect(patches()).toEqual([]);
  });
});
