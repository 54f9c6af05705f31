import {describe, expect, test} from 'vitest';
import type {AST, Condition} from '../../src/protocol/ast.js';
import type {FuzzSchema} from './fuzz-schema.js';
import {
  cmp,
  evaluateOnce,
  exists,
  or,
  rootValues,
  rows,
  syncedKeys,
  table,
} from './oracle-fixtures.js';

/**
 * Oracle self-tests, part 2: related subqueries (per-parent limits, hidden junctions), EXISTS /
 * NOT EXISTS (NULL keys, limit 0) and which rows are synced (§2.10).
 */
const p = table('p', 'id int, name text?');
const c = table('c', 'id int, pid int?, v int?');
const g = table('g', 'id int, cid int?');
const schema: FuzzSchema = {tables: [p, c, g]};
const data = {
  p: rows('id, name', [1, 'x'], [2, 'y'], [3, null]),
  c: rows(
    'id, pid, v',
    [10, 1, 3],
    [11, 1, 1],
    [12, 1, 2],
    [13, 2, 5],
    [14, null, 0],
    [15, 2, 4],
    [16, 1, 9],
  ),
  g: rows('id, cid', [100, 10], [101, 13]),
};
const run = (ast: AST) => evaluateOnce(schema, data, ast);
const kids = (subquery: Partial<AST> = {}): AST => ({table: 'c', alias: 'zsubq_c', ...subquery});
const pWhere = (where: Condition, extra: Partial<AST> = {}) => run({table: 'p', where, ...extra});

describe('oracle: related subqueries', () => {
  const withKids = (subquery: Partial<AST>): AST => ({
    table: 'p',
    related: [
      {
        correlation: {parentField: ['id'], childField: ['pid']},
        subquery: {table: 'c', alias: 'kids', ...subquery},
      },
    ],
  });

  test('limit and order apply per parent', () => {
    const result = run(withKids({orderBy: [['v', 'asc']], limit: 2}));
    const kidIds = result.view.map((n) => n.relationships.kids!.map((k) => k.row.id));
    expect(kidIds).toEqual([[11, 12], [15, 13], []]);
    expect(syncedKeys(result)).toEqual(
      ['c/[11]', 'c/[12]', 'c/[13]', 'c/[15]', 'p/[1]', 'p/[2]', 'p/[3]'].sort(),
    );
  });

  test('limit 0 gives every parent an empty relationship', () => {
    const result = run(withKids({limit: 0}));
    expect(result.view.map((n) => n.relationships)).toEqual([{kids: []}, {kids: []}, {kids: []}]);
  });

  test('the subquery where applies per parent; NULL keys never join', () => {
    const result = run({
      table: 'c',
      orderBy: [['id', 'asc']],
      related: [
        {
          correlation: {parentField: ['pid'], childField: ['id']},
          subquery: {table: 'p', alias: 'parent', where: cmp('name', 'IS NOT', null)},
        },
      ],
    });
    const parents = result.view.map((n) => n.relationships.parent!.map((k) => k.row.id));
    expect(parents).toEqual([[1], [1], [1], [2], [], [2], [1]]);
  });

  test('a hidden junction is a level of the view, and its rows are synced', () => {
    const issue = table('issue', 'id int, title text');
    const label = table('label', 'id int, name text');
    const issueLabel = table('issueLabel', 'issueId int, labelId int', ['issueId', 'labelId']);
    const result = evaluateOnce(
      {tables: [issue, label, issueLabel]},
      {
        issue: rows('id, title', [1, 'one'], [2, 'two']),
        label: rows('id, name', [10, 'ui'], [11, 'bug']),
        issueLabel: rows('issueId, labelId', [1, 11], [1, 10], [2, 11]),
      },
      {
        table: 'issue',
        related: [
          {
            correlation: {parentField: ['id'], childField: ['issueId']},
            hidden: true,
            subquery: {
              table: 'issueLabel',
              alias: 'labels',
              related: [
                {
                  correlation: {parentField: ['labelId'], childField: ['id']},
                  subquery: {table: 'label', alias: 'labels', orderBy: [['name', 'asc']]},
                },
              ],
            },
          },
        ],
      },
    );
    expect(result.view[0]).toEqual({
      row: {id: 1, title: 'one'},
      relationships: {
        labels: [
          {
            row: {issueId: 1, labelId: 10},
            relationships: {labels: [{row: {id: 10, name: 'ui'}, relationships: {}}]},
          },
          {
            row: {issueId: 1, labelId: 11},
            relationships: {labels: [{row: {id: 11, name: 'bug'}, relationships: {}}]},
          },
        ],
      },
    });
    expect(syncedKeys(result)).toEqual(
      [
        'issue/[1]',
        'issue/[2]',
        'issueLabel/[1,10]',
        'issueLabel/[1,11]',
        'issueLabel/[2,11]',
        'label/[10]',
        'label/[11]',
      ].sort(),
    );
  });
});

describe('oracle: EXISTS / NOT EXISTS', () => {
  test.each([
    ['EXISTS', exists('EXISTS', 'id', 'pid', kids()), [1, 2]],
    ['NOT EXISTS', exists('NOT EXISTS', 'id', 'pid', kids()), [3]],
    ['EXISTS with limit 0 is false', exists('EXISTS', 'id', 'pid', kids({limit: 0})), []],
    [
      'NOT EXISTS with limit 0 is true',
      exists('NOT EXISTS', 'id', 'pid', kids({limit: 0})),
      [1, 2, 3],
    ],
    ['EXISTS with a small limit', exists('EXISTS', 'id', 'pid', kids({limit: 1})), [1, 2]],
    [
      'EXISTS with a subquery where',
      exists('EXISTS', 'id', 'pid', kids({where: cmp('v', '>', 4)})),
      [1, 2],
    ],
    ['EXISTS where v = 5', exists('EXISTS', 'id', 'pid', kids({where: cmp('v', '=', 5)})), [2]],
    [
      'EXISTS in an or',
      or(cmp('name', '=', 'y'), exists('NOT EXISTS', 'id', 'pid', kids())),
      [2, 3],
    ],
  ] as const)('%s', (_name, where, expected) => {
    expect(rootValues(pWhere(where))).toEqual(expected);
  });

  test('a NULL correlation key never matches: EXISTS false, NOT EXISTS true', () => {
    const parentOf = (op: 'EXISTS' | 'NOT EXISTS') =>
      exists(op, 'pid', 'id', {table: 'p', alias: 'zsubq_p'});
    expect(rootValues(run({table: 'c', where: parentOf('EXISTS')}))).toEqual([
      10, 11, 12, 13, 15, 16,
    ]);
    expect(rootValues(run({table: 'c', where: parentOf('NOT EXISTS')}))).toEqual([14]);
  });
});

describe('oracle: synced rows of condition subqueries', () => {
  test('up to 3 children per result row, in the subquery order, whatever its limit', () => {
    const byV = kids({orderBy: [['v', 'desc']], limit: 1});
    const result = pWhere(exists('EXISTS', 'id', 'pid', byV));
    // p1's children by v desc: 16 (9), 10 (3), 12 (2), 11 (1): the first 3 are synced.
    expect(syncedKeys(result)).toEqual(
      ['c/[10]', 'c/[12]', 'c/[13]', 'c/[15]', 'c/[16]', 'p/[1]', 'p/[2]'].sort(),
    );
  });

  test('only rows in the result sync their children (limit cuts p2)', () => {
    const result = pWhere(exists('EXISTS', 'id', 'pid', kids()), {limit: 1});
    expect(syncedKeys(result)).toEqual(['c/[10]', 'c/[11]', 'c/[12]', 'p/[1]']);
  });

  test('a row passing another or-branch syncs its NOT EXISTS children', () => {
    const result = pWhere(or(cmp('name', '=', 'x'), exists('NOT EXISTS', 'id', 'pid', kids())));
    expect(rootValues(result)).toEqual([1, 3]);
    expect(syncedKeys(result)).toEqual(['c/[10]', 'c/[11]', 'c/[12]', 'p/[1]', 'p/[3]']);
  });

  test('limit 0 condition subqueries sync nothing', () => {
    const result = pWhere(exists('NOT EXISTS', 'id', 'pid', kids({limit: 0})));
    expect(syncedKeys(result)).toEqual(['p/[1]', 'p/[2]', 'p/[3]']);
  });

  test('children sync their own condition subqueries, recursively', () => {
    const grandkids = {table: 'g', alias: 'zsubq_g'};
    const where = exists(
      'EXISTS',
      'id',
      'pid',
      kids({where: exists('EXISTS', 'id', 'cid', grandkids)}),
    );
    const result = pWhere(where);
    expect(rootValues(result)).toEqual([1, 2]);
    expect(syncedKeys(result)).toEqual([
      'c/[10]',
      'c/[13]',
      'g/[100]',
      'g/[101]',
      'p/[1]',
      'p/[2]',
    ]);
  });

  test('permission subqueries are never synced', () => {
    const where: Condition = {
      type: 'correlatedSubquery',
      op: 'EXISTS',
      related: {
        correlation: {parentField: ['id'], childField: ['pid']},
        subquery: kids(),
        system: 'permissions',
      },
    };
    const result = pWhere(where);
    expect(rootValues(result)).toEqual([1, 2]);
    expect(syncedKeys(result)).toEqual(['p/[1]', 'p/[2]']);
  });
});
