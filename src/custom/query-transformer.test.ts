import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {ProtocolError} from '../protocol/sync-errors.js';
import {QueryTransformer} from './query-transformer.js';

/**
 * What QueryTransformer makes of each generation's answers, against a real HTTP server: 0.25's
 * `['transformed', …]` and 1.x's `{kind: 'QueryResponse', queries, userID}` give the same ASTs; a
 * bare TransformFailed body fails the request; a 1.x answer for another user is Unauthorized.
 */
let server: http.Server;
let port: number;
let answer: unknown;
let lastHeaders: http.IncomingHttpHeaders = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    lastHeaders = req.headers;
    req.resume();
    req.on('end', () =>
      res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify(answer)),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const query = {id: 'q1', name: 'all', args: []};
const ast = {table: 'issue'};

function transformer() {
  return new QueryTransformer({
    url: `http://127.0.0.1:${port}/query`,
    forwardCookies: false,
    appID: 'app',
    shardSchema: 'app_0',
    timeoutMs: 5000,
  });
}

test("0.25's and 1.x's answers give the same ASTs", async () => {
  answer = ['transformed', [{id: 'q1', name: 'all', ast}]];
  const old = await transformer().transform([query], {token: 't1', userID: 'u1'});
  answer = {kind: 'QueryResponse', queries: [{id: 'q1', name: 'all', ast}], userID: 'u1'};
  const now = await transformer().transform([query], {token: 't1', userID: 'u1'});
  expect(now).toEqual(old);
  expect(now.asts.get('q1')).toEqual(ast);
});

test("1.x's per-query errors and bare TransformFailed body", async () => {
  const error = {error: 'app', id: 'q1', name: 'all', message: 'nope'};
  answer = {kind: 'QueryResponse', queries: [error]};
  expect((await transformer().transform([query], {})).errors).toEqual([error]);
  answer = {
    kind: 'TransformFailed',
    origin: 'server',
    reason: 'internal',
    message: 'down',
    queryIDs: ['q1'],
  };
  const failed = await transformer()
    .transform([query], {})
    .catch((e: unknown) => e);
  expect(failed).toBeInstanceOf(ProtocolError);
  expect((failed as ProtocolError).body).toMatchObject({kind: 'TransformFailed', message: 'down'});
});

test('a 1.x answer for another user (or for a logged-out one) is Unauthorized, naming no one', async () => {
  for (const [answered, own] of [
    ['mallory', 'victim'],
    [null, 'victim'],
    ['mallory', undefined],
  ] as const) {
    answer = {kind: 'QueryResponse', queries: [{id: 'q1', name: 'all', ast}], userID: answered};
    const refused = await transformer()
      .transform([query], {token: 't', userID: own})
      .catch((e: unknown) => e);
    expect((refused as ProtocolError).body).toMatchObject({kind: 'Unauthorized'});
    expect(JSON.stringify((refused as ProtocolError).body)).not.toMatch(/mallory|victim/);
  }
  answer = {kind: 'QueryResponse', queries: [{id: 'q1', name: 'all', ast}], userID: null};
  await expect(transformer().transform([query], {})).resolves.toMatchObject({errors: []});
});

test("the client's trace context travels as the traceparent header", async () => {
  answer = {kind: 'QueryResponse', queries: [{id: 'q1', name: 'all', ast}]};
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  await transformer().transform([query], {}, traceparent);
  expect(lastHeaders.traceparent).toBe(traceparent);
});
