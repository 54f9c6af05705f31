import {expect, test} from 'vitest';
import {answerInspect, InspectorLogin} from './inspector.js';
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

const version = (id: string) => ({id, op: 'version' as const});
const authenticate = (id: string, value: string) => ({id, op: 'authenticate' as const, value});

test('every op but authenticate is refused until the connection authenticates', () => {
  const login = new InspectorLogin();
  expect(answerInspect(version('1'), login, prod, undefined)).toEqual({
    id: '1',
    op: 'authenticated',
    value: false,
  });
  expect(answerInspect(authenticate('2', 'wrong'), login, prod, undefined)).toEqual({
    id: '2',
    op: 'authenticated',
    value: false,
  });
  expect(answerInspect(authenticate('3', 'pw'), login, prod, undefined)).toEqual({
    id: '3',
    op: 'authenticated',
    value: true,
  });
  expect(answerInspect(version('4'), login, prod, undefined)).toEqual({
    id: '4',
    op: 'version',
    value: '1.2.3',
  });
});

test('with a password set, development mode requires it too', () => {
  const devWithPassword = {...prod, development: true};
  const login = new InspectorLogin();
  expect(answerInspect(version('1'), login, devWithPassword, undefined)).toMatchObject({
    op: 'authenticated',
    value: false,
  });
  expect(answerInspect(authenticate('2', 'anything'), login, devWithPassword, undefined)).toEqual({
    id: '2',
    op: 'authenticated',
    value: false,
  });
  expect(answerInspect(version('3'), login, devWithPassword, undefined)).toMatchObject({
    op: 'authenticated',
    value: false,
  });
});

test('production mode with no password configured lets no one in', () => {
  const noPassword = {...prod, adminPassword: undefined};
  const login = new InspectorLogin();
  expect(answerInspect(authenticate('1', ''), login, noPassword, undefined)).toMatchObject({
    value: false,
  });
  expect(answerInspect(version('2'), login, noPassword, undefined)).toMatchObject({
    op: 'authenticated',
    value: false,
  });
});

test("a login is the connection's own: another connection of the same group must log in itself", () => {
  const first = new InspectorLogin();
  answerInspect(authenticate('1', 'pw'), first, prod, undefined);
  expect(answerInspect(version('2'), new InspectorLogin(), prod, undefined)).toMatchObject({
    op: 'authenticated',
    value: false,
  });
});

test('a failed login ends an earlier successful one', () => {
  const login = new InspectorLogin();
  answerInspect(authenticate('1', 'pw'), login, prod, undefined);
  answerInspect(authenticate('2', 'wrong'), login, prod, undefined);
  expect(answerInspect(version('3'), login, prod, undefined)).toMatchObject({
    op: 'authenticated',
    value: false,
  });
});

test('development mode with no password configured needs no login; queries report desires with row counts', () => {
  const dev = {...prod, adminPassword: undefined, development: true};
  const answer = answerInspect({id: '5', op: 'queries'}, new InspectorLogin(), dev, state());
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
