import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {createLogger} from '../shared/log.js';
import {callApiServer, type ApiServerTarget} from './api-server-call.js';

/**
 * What a failed API-server call tells the client (its message ends up in a PushFailed or
 * TransformFailed body) and what it logs, against a real HTTP server: the client's text carries
 * no URL — no host, port, path, query-string key or password — and the log carries the URL with
 * its user and password removed and its query values blanked.
 */
const KEY = 'key-7c1e0b';
let server: http.Server;
let port: number;
let answer: (res: http.ServerResponse) => void;
let lastHeaders: http.IncomingHttpHeaders = {};
let requests = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    lastHeaders = req.headers;
    requests++;
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A call to `url` whose log lines are returned with its result. */
async function call(url: string, timeoutMs = 5000) {
  const logged: string[] = [];
  const target: ApiServerTarget = {
    url,
    forwardCookies: false,
    appID: 'app',
    shardSchema: 'app_0',
    timeoutMs,
    log: createLogger('info', 'text', {}, {write: (line) => logged.push(line)}),
  };
  const result = await callApiServer(target, {}, ['push', {}]);
  if (result.ok) throw new Error('the call was expected to fail');
  return {result, log: logged.join('\n')};
}

/** A port nothing listens on: close a server that had it. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

test('an unreachable API server: the client learns no host, port, path or key; the log has the URL without the key', async () => {
  const p = await closedPort();
  const {result, log} = await call(`http://127.0.0.1:${p}/api/push?key=${KEY}`);
  expect(result.failure).toEqual({origin: 'zeroCache', reason: 'internal'});
  expect(result.message).toMatch(/^Fetch from API server failed \(error id [0-9a-f]{12};/);
  expect(result.message).not.toMatch(new RegExp(`127\\.0\\.0\\.1|${p}|/api/push|${KEY}`));
  const id = /error id ([0-9a-f]{12})/.exec(result.message)![1]!;
  expect(log).toContain(`http://127.0.0.1:${p}/api/push?key=redacted&schema=app_0&appID=app`);
  expect(log).toContain(id);
  expect(log).toContain('ECONNREFUSED');
  expect(log).not.toContain(KEY);
});

test('a URL with a user and password is refused before any request, the password in neither message nor log', async () => {
  answer = (res) => res.writeHead(200).end('[]');
  const {result, log} = await call(`http://admin:pw-5d2f@127.0.0.1:${port}/push`);
  expect(result.message).toBe('The API server URL must not carry a user or password.');
  expect(log).toContain(`http://127.0.0.1:${port}/push`);
  expect(log).not.toMatch(/pw-5d2f|admin/);
});

test('an API server slower than the timeout: reason timeout, and no URL in the message', async () => {
  answer = (res) => setTimeout(() => res.writeHead(200).end('[]'), 1000);
  const {result, log} = await call(`http://127.0.0.1:${port}/push?key=${KEY}`, 100);
  expect(result).toMatchObject({
    message: 'The API server did not answer within 100 ms',
    failure: {origin: 'zeroCache', reason: 'timeout'},
  });
  expect(log).toContain(`127.0.0.1:${port}/push?key=redacted`);
});

test('an answer that is not JSON: reason parse, and no URL in the message', async () => {
  answer = (res) => res.writeHead(200).end('<html>');
  const {result} = await call(`http://127.0.0.1:${port}/push?key=${KEY}`);
  expect(result).toEqual({
    ok: false,
    message: 'The API server answered with invalid JSON',
    failure: {origin: 'zeroCache', reason: 'parse'},
  });
});

test("a non-OK status keeps the reference's body: status and the start of the answer", async () => {
  answer = (res) => res.writeHead(503).end('down for maintenance');
  const {result} = await call(`http://127.0.0.1:${port}/push?key=${KEY}`);
  expect(result).toEqual({
    ok: false,
    message: 'Fetch from API server returned non-OK status 503',
    failure: {
      origin: 'zeroCache',
      reason: 'http',
      status: 503,
      bodyPreview: 'down for maintenance',
    },
  });
});

test('headers: Origin, then only the allow-listed request and client headers, never one zcache sets itself', async () => {
  answer = (res) => res.writeHead(200, {'Content-Type': 'application/json'}).end('{}');
  const target: ApiServerTarget = {
    url: `http://127.0.0.1:${port}/api/mutate`,
    apiKey: 'the key',
    forwardCookies: false,
    appID: 'app',
    shardSchema: 'app_0',
    timeoutMs: 5000,
    clientHeaders: {of: 'push', allowed: ['X-Tenant', 'Authorization', 'X-Api-Key', 'x-split']},
    allowedRequestHeaders: ['x-forwarded-for'],
  };
  const result = await callApiServer(
    target,
    {
      token: 'tok',
      requestHeaders: {
        origin: 'https://app.example',
        'x-forwarded-for': '10.0.0.1',
        'x-secret-proxy-header': 'no',
        cookie: 'session=1',
      },
      pushHeaders: {
        'x-tenant': 't1',
        authorization: 'Bearer forged',
        'X-Api-Key': 'forged',
        'x-split': 'a\r\ninjected: 1',
      },
      queryHeaders: {'x-tenant': 'from the query side'},
    },
    ['push', {}],
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  );
  expect(result.ok).toBe(true);
  expect(lastHeaders).toMatchObject({
    origin: 'https://app.example',
    'x-forwarded-for': '10.0.0.1',
    'x-tenant': 't1',
    authorization: 'Bearer tok',
    'x-api-key': 'the key',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
  expect(lastHeaders['x-secret-proxy-header']).toBeUndefined();
  expect(lastHeaders['x-split']).toBeUndefined();
  expect(lastHeaders.injected).toBeUndefined();
  expect(lastHeaders.cookie).toBeUndefined();
});

describe('retries, as 1.9: 5xx and unreachable only, at most 4 attempts', () => {
  const target = (): ApiServerTarget => ({
    url: `http://127.0.0.1:${port}/api/mutate`,
    forwardCookies: false,
    appID: 'app',
    shardSchema: 'app_0',
    timeoutMs: 5000,
    retry: {attempts: 4, delayMs: () => 1},
  });
  const answering = (statuses: number[]) => {
    requests = 0;
    answer = (res) => {
      const status = statuses[requests - 1] ?? 200;
      res.writeHead(status, {'Content-Type': 'application/json'}).end(status === 200 ? '{}' : 'x');
    };
  };

  test('two 503s, then an answer: the answer, after 3 requests', async () => {
    answering([503, 503]);
    expect(await callApiServer(target(), {}, ['push', {}])).toEqual({ok: true, body: {}});
    expect(requests).toBe(3);
  });

  test('500 every time: the failure after 4 requests', async () => {
    answering([500, 500, 500, 500, 500]);
    const result = await callApiServer(target(), {}, ['push', {}]);
    expect(result).toMatchObject({ok: false, failure: {reason: 'http', status: 500}});
    expect(requests).toBe(4);
  });

  test('a 4xx is not retried', async () => {
    answering([401]);
    const result = await callApiServer(target(), {}, ['push', {}]);
    expect(result).toMatchObject({ok: false, failure: {reason: 'http', status: 401}});
    expect(requests).toBe(1);
  });
});

test('a traceparent not in W3C form is not passed on', async () => {
  answer = (res) => res.writeHead(200, {'Content-Type': 'application/json'}).end('{}');
  const target: ApiServerTarget = {
    url: `http://127.0.0.1:${port}/api/mutate`,
    forwardCookies: false,
    appID: 'app',
    shardSchema: 'app_0',
    timeoutMs: 5000,
  };
  const result = await callApiServer(target, {}, ['push', {}], 'x\r\ninjected: 1');
  expect(result.ok).toBe(true);
  expect(lastHeaders.traceparent).toBeUndefined();
  expect(lastHeaders.injected).toBeUndefined();
});
