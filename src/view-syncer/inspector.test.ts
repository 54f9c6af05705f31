import {expect, test} from 'vitest';
import {answerInspect} from './inspector.js';
import {QuerySet} from './query-set.js';
import {RowSet} from './row-set.js';

const prod = {adminPassword: 'pw', development: false, serverVersion: '1.2.3'};

function state() {
  const queries = new QuerySet(new Map(), new Map());
  queries.applyPatch(
    'c1',
    [{op: 'put', hash: 'h1', ast: {table: 'issue'}}],
    {stateVersion: '0a'},
    0,
  );
  const rows = new RowSet(new Map());
  rows.apply('h1', [{op: 'put', table: 'issue', key: {id: 1}, row: {id: 1, _0_version: '0a'}}], {
    stateVersion: '0a',
  });
  rows.finish({stateVersion: '0a'});
  return {queries, rows};
}

test('every op but authenticate is refused until the group authenticates', () => {
  expect(answerInspect({id: '1', op: 'version'}, 'g-a', prod, undefined)).toEqual({
    id: '1',
    op: 'authenticated',
    value: false,
  });
  expect(
    answerInspect({id: '2', op: 'authenticate', value: 'wrong'}, 'g-a', prod, undefined),
  ).toEqual({id: '2', op: 'authenticated', value: false});
  expect(answerInspect({id: '3', op: 'authenticate', value: 'pw'}, 'g-a', prod, undefined)).toEqual(
    {id: '3', op: 'authenticated', value: true},
  );
  expect(answerInspect({id: '4', op: 'version'}, 'g-a', prod, undefined)).toEqual({
    id: '4',
    op: 'version',
    value: '1.2.3',
  });
});

test('development mode needs no password; queries report desires with row counts', () => {
  const dev = {...prod, development: true};
  const answer = answerInspect({id: '5', op: 'queries'}, 'g-b', dev, state());
  expect(answer).toEqual({
    id: '5',
    op: 'queries',
    value: [
      expect.objectContaining({
        clientID: 'c1',
        queryID: 'h1',
        got: false,
        deleted: false,
        rowCount: 1,
      }),
    ],
  });
});
