/**
 * The connect request: the Sec-WebSocket-Protocol header round-trips with the real client's
 * encoder and decoder, and path / query-parameter parsing accepts and rejects what the reference
 * does, with errors that say what is wrong.
 */
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {beforeAll, describe, expect, test} from 'vitest';
import {
  ConnectRequestError,
  decodeSecProtocols,
  encodeSecProtocols,
  handoffCloseReason,
  isSupportedProtocolVersion,
  MAX_CLOSE_REASON_BYTES,
  parseConnectParams,
  parseConnectPath,
  versionNotSupportedError,
  versionNotSupportedMessage,
} from '../../src/protocol/sync-connect.js';
import {parseUpstreamMessage, type InitConnectionMessage} from '../../src/protocol/sync-up.js';

type ReferenceConnect = {
  encodeSecProtocols(initConnectionMessage: unknown, authToken: string | undefined): string;
  decodeSecProtocols(header: string): {initConnectionMessage?: unknown; authToken?: string};
};
let reference: ReferenceConnect;

beforeAll(async () => {
  const file = path.resolve('node_modules/@rocicorp/zero/out/zero-protocol/src/connect.js');
  reference = (await import(pathToFileURL(file).href)) as ReferenceConnect;
});

const initConnection: InitConnectionMessage = [
  'initConnection',
  {
    desiredQueriesPatch: [
      {op: 'put', hash: 'h1', ttl: 300000, ast: {table: 'issue', orderBy: [['id', 'asc']]}},
      {op: 'put', hash: 'h2', name: 'byOwner', args: ['ünïcödé ✓ 🎉']},
    ],
    clientSchema: {tables: {issue: {columns: {id: {type: 'string'}}, primaryKey: ['id']}}},
    activeClients: ['c1'],
  },
];

const cases: [string, InitConnectionMessage | undefined, string | undefined][] = [
  ['both fields', initConnection, 'eyJhbGciOiJIUzI1NiJ9.e30.sig'],
  ['token only', undefined, 'tökén with ✓ and 🎉'],
  ['message only', initConnection, undefined],
  ['neither', undefined, undefined],
];

describe('Sec-WebSocket-Protocol against the real client encoder', () => {
  test.each(cases)('%s: same header, and each side decodes the other', (_name, msg, token) => {
    const ours = encodeSecProtocols({initConnectionMessage: msg, authToken: token});
    const theirs = reference.encodeSecProtocols(msg, token);
    expect(ours).toBe(theirs);
    expect(decodeSecProtocols(theirs)).toEqual({initConnectionMessage: msg, authToken: token});
    expect(reference.decodeSecProtocols(ours)).toEqual(
      JSON.parse(JSON.stringify({initConnectionMessage: msg, authToken: token})),
    );
  });

  test('an empty object encodes as the fact sheet says', () => {
    expect(encodeSecProtocols({})).toBe('e30%3D');
  });

  test('the decoded initConnection parses as an upstream message', () => {
    const header = reference.encodeSecProtocols(initConnection, 'tok');
    const {initConnectionMessage} = decodeSecProtocols(header);
    expect(parseUpstreamMessage(initConnectionMessage)).toEqual(initConnection);
  });
});

describe('decodeSecProtocols errors', () => {
  const encode = (json: string) => encodeURIComponent(Buffer.from(json).toString('base64'));
  test.each([
    ['missing header', undefined, 'Missing Sec-WebSocket-Protocol header'],
    ['empty header', '', 'Missing Sec-WebSocket-Protocol header'],
    ['bad URI escape', '%E0%A4%A', 'not URI-encoded'],
    ['not base64', 'abc$def', 'not base64'],
    ['not UTF-8', encodeURIComponent(Buffer.from([0xff, 0xfe]).toString('base64')), 'not UTF-8'],
    ['not JSON', encode('{nope'), 'not JSON'],
    ['an array', encode('[1]'), 'expected a JSON object'],
    ['null', encode('null'), 'expected a JSON object'],
    ['unknown key', encode('{"authToken":"t","extra":1}'), 'unknown key(s) extra'],
    ['token not a string', encode('{"authToken":7}'), 'authToken must be a string'],
  ])('%s', (_name, header, words) => {
    expect(() => decodeSecProtocols(header)).toThrow(ConnectRequestError);
    expect(() => decodeSecProtocols(header)).toThrow(words);
  });
});

describe('parseConnectPath', () => {
  test('accepts the client path, with or without one base segment', () => {
    expect(parseConnectPath('/sync/v44/connect')).toEqual({
      base: undefined,
      worker: 'sync',
      version: 44,
      action: 'connect',
    });
    expect(parseConnectPath('/zero/sync/v44/connect')).toEqual({
      base: 'zero',
      worker: 'sync',
      version: 44,
      action: 'connect',
    });
    expect(parseConnectPath('/mutate/v30/push').worker).toBe('mutate');
    expect(parseConnectPath('/replication/v1/changes').worker).toBe('replication');
  });

  test('version is Number(segment): out-of-range values parse, for the range check to reject', () => {
    expect(parseConnectPath('/sync/v29/connect').version).toBe(29);
    expect(parseConnectPath('/sync/v-1/connect').version).toBe(-1);
  });

  test.each([
    ['/a/b/sync/v44/connect', 'Invalid URL path'],
    ['/sync/v44/connect/', 'Invalid URL path'],
    ['/sync/v4.4/connect', 'Invalid URL path'],
    ['/x.y/sync/v44/connect', 'Invalid URL path'],
    ['/sync/44/connect', 'Invalid URL path'],
    ['/other/v44/connect', 'unknown worker "other"'],
    ['/sync/vX/connect', 'protocol version "X" is not a number'],
  ])('rejects %s', (pathname, words) => {
    expect(() => parseConnectPath(pathname)).toThrow(ConnectRequestError);
    expect(() => parseConnectPath(pathname)).toThrow(words);
  });
});

describe('parseConnectParams', () => {
  const required = 'clientID=c1&clientGroupID=g1&ts=1234.56&lmid=7';

  test('reads required params and applies the defaults', () => {
    expect(parseConnectParams(new URLSearchParams(required))).toEqual({
      clientID: 'c1',
      clientGroupID: 'g1',
      timestamp: 1234,
      lmid: 7,
      baseCookie: null,
      wsid: '',
      userID: '',
      profileID: null,
      schemaVersion: null,
      debugPerf: false,
    });
  });

  test('reads the optional params; empty strings count as absent', () => {
    const query = `${required}&baseCookie=&wsid=w1&userID=u1&profileID=p1&schemaVersion=3&debugPerf=true&extra=1`;
    expect(parseConnectParams(new URLSearchParams(query))).toMatchObject({
      baseCookie: null,
      wsid: 'w1',
      userID: 'u1',
      profileID: 'p1',
      schemaVersion: 3,
      debugPerf: true,
    });
    const withCookie = parseConnectParams(new URLSearchParams(`${required}&baseCookie=1a2b`));
    expect(withCookie.baseCookie).toBe('1a2b');
    expect(parseConnectParams(new URLSearchParams(`${required}&debugPerf=1`)).debugPerf).toBe(
      false,
    );
  });

  test.each([
    ['clientGroupID=g1&ts=1&lmid=0', 'missing parameter clientID'],
    ['clientID=&clientGroupID=g1&ts=1&lmid=0', 'missing parameter clientID'],
    ['clientID=c1&ts=1&lmid=0', 'missing parameter clientGroupID'],
    ['clientID=c1&clientGroupID=g1&lmid=0', 'missing parameter ts'],
    ['clientID=c1&clientGroupID=g1&ts=1', 'missing parameter lmid'],
    ['clientID=c1&clientGroupID=g1&ts=now&lmid=0', 'parameter ts must be an integer, got "now"'],
    ['clientID=c1&clientGroupID=g1&ts=1&lmid=x', 'parameter lmid must be an integer, got "x"'],
    [`${required}&schemaVersion=v2`, 'parameter schemaVersion must be an integer, got "v2"'],
  ])('%s fails: %s', (query, words) => {
    expect(() => parseConnectParams(new URLSearchParams(query))).toThrow(ConnectRequestError);
    expect(() => parseConnectParams(new URLSearchParams(query))).toThrow(words);
  });
});

describe('protocol versions', () => {
  test('30..51 are supported (0.25.9 clients at 44, 1.9.0 at 51)', () => {
    expect([29, 30, 44, 45, 51, 52].map(isSupportedProtocolVersion)).toEqual([
      false,
      true,
      true,
      true,
      true,
      false,
    ]);
  });

  test('the VersionNotSupported text names who must be updated', () => {
    expect(versionNotSupportedMessage(29)).toBe(
      'server is at sync protocol v51 and does not support v29. ' +
        'The client must be updated to a newer release.',
    );
    expect(versionNotSupportedMessage(52)).toContain('The server must be updated');
    expect(versionNotSupportedError(29)).toEqual({
      kind: 'VersionNotSupported',
      message: versionNotSupportedMessage(29),
      origin: 'zeroCache',
    });
  });
});

test('handoffCloseReason keeps String(error) within 123 bytes without splitting a character', () => {
  expect(handoffCloseReason(new ConnectRequestError('bad'))).toBe('ConnectRequestError: bad');
  const long = handoffCloseReason(new Error('é'.repeat(100)));
  expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
  expect(long).toBe(`Error: ${'é'.repeat(58)}`);
});
