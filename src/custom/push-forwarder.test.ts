import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {afterAll, beforeAll, expect, test} from 'vitest';
import type {PushFailedBody} from '../protocol/sync-errors.js';
import type {CustomMutation, PushBody} from '../protocol/sync-up-push.js';
import {createLogger} from '../shared/log.js';
import {EndpointAllowList} from './endpoint-url.js';
import {PushForwarder} from './push-forwarder.js';

/**
 * What PushForwarder makes of a 1.x API server's MutateResponse, against a real HTTP server: an
 * answer for the connection's own user (or one that does not say) fails nobody; an answer for
 * another user fails the push's clients with a 401 that names no one. The forwarded body never
 * carries the client's `auth` or `traceparent`.
 */
let server: http.Server;
let port: number;
let answer: unknown;
let lastBody: Record<string, unknown> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lastBody = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const mutation: CustomMutation = {
  type: 'custom',
  id: 1,
  clientID: 'c1',
  name: 'note.add',
  args: [{}],
  timestamp: 1,
};
const push: PushBody & {mutations: CustomMutation[]} = {
  clientGroupID: 'g1',
  mutations: [mutation],
  pushVersion: 1,
  timestamp: 1,
  requestID: 'r1',
  auth: 'should not travel',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

async function forward(userID: string | undefined): Promise<PushFailedBody[]> {
  const failed: PushFailedBody[] = [];
  const forwarder = new PushForwarder(
    {
      endpoint: new EndpointAllowList('ZERO_MUTATE_URL', [`http://127.0.0.1:${port}/mutate`]),
      forwardCookies: false,
      appID: 'app',
      shardSchema: 'app_0',
      timeoutMs: 5000,
      log: createLogger('error', 'text', {}, {write: () => {}}),
    },
    () => [{clientID: 'c1', failPush: (body) => failed.push(body)}],
  );
  forwarder.enqueue(push, {token: 't', userID});
  await forwarder.idle();
  return failed;
}

const results = [{id: {clientID: 'c1', id: 1}, result: {}}];

test("an answer for the connection's own user, or one that does not say, fails nobody", async () => {
  answer = {kind: 'MutateResponse', mutations: results, userID: 'victim'};
  expect(await forward('victim')).toEqual([]);
  answer = {kind: 'MutateResponse', mutations: results, userID: null};
  expect(await forward(undefined)).toEqual([]);
  answer = {mutations: results};
  expect(await forward('victim')).toEqual([]);
  expect(lastBody).not.toHaveProperty('auth');
  expect(lastBody).not.toHaveProperty('traceparent');
  expect(lastBody).toMatchObject({clientGroupID: 'g1', mutations: [mutation]});
});

test("an answer for another user fails the push's clients with a 401 naming no one", async () => {
  answer = {kind: 'MutateResponse', mutations: results, userID: 'mallory'};
  const [failure, ...rest] = await forward('victim');
  expect(rest).toEqual([]);
  expect(failure).toMatchObject({
    kind: 'PushFailed',
    origin: 'zeroCache',
    reason: 'http',
    status: 401,
    mutationIDs: [{clientID: 'c1', id: 1}],
  });
  expect(JSON.stringify(failure)).not.toMatch(/mallory|victim/);
});
