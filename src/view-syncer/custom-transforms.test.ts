import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {QueryTransformer} from '../custom/query-transformer.js';
import {createLogger} from '../shared/log.js';
import {CustomTransforms} from './custom-transforms.js';

/**
 * Which running custom queries a re-transform rebuilds, against a real HTTP API server: only those
 * answered with another AST (or refused), only when a re-transform was asked for; a failed
 * periodic one rebuilds nothing and throws nothing, a failed one after updateAuth throws.
 */
let server: http.Server;
let port: number;
let status = 200;
let answer: unknown;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status).end(JSON.stringify(answer)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function transforms(): CustomTransforms {
  const transformer = new QueryTransformer({
    url: `http://127.0.0.1:${port}/query`,
    forwardCookies: false,
    appID: 'app',
    shardSchema: 'app_0',
    timeoutMs: 5000,
    retry: {attempts: 1},
  });
  return new CustomTransforms(transformer, createLogger('error', 'text', {}, {write: () => {}}));
}

const a = {table: 'issue'};
const b = {table: 'comment'};
const running = [
  {id: 'same', name: 'same', args: [], ast: a},
  {id: 'changed', name: 'changed', args: [], ast: a},
  {id: 'refused', name: 'refused', args: [], ast: b},
];

test('only queries answered differently or refused are rebuilt, and only when asked', async () => {
  status = 200;
  answer = {
    kind: 'QueryResponse',
    queries: [
      {id: 'same', name: 'same', ast: a},
      {id: 'changed', name: 'changed', ast: b},
      {error: 'app', id: 'refused', name: 'refused', message: 'no'},
    ],
  };
  const t = transforms();
  expect(await t.toRebuild(running, {token: 't1'})).toEqual([]);
  t.transformAgain('now');
  expect(await t.toRebuild(running, {token: 't1'})).toEqual(['changed', 'refused']);
  expect(await t.toRebuild(running, {token: 't1'}), 'asked once, done once').toEqual([]);
});

test('a failed periodic re-transform rebuilds nothing; a failed one after updateAuth throws', async () => {
  status = 500;
  answer = 'down';
  const t = transforms();
  t.transformAgain('quietly');
  expect(await t.toRebuild(running, {token: 't2'})).toEqual([]);
  t.transformAgain('now');
  await expect(t.toRebuild(running, {token: 't3'})).rejects.toMatchObject({
    body: {kind: 'TransformFailed'},
  });
});
