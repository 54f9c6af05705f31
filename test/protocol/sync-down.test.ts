/**
 * Downstream shapes: one message of every type we send, in its fullest form, is accepted by the
 * reference's downstream schema even in strict mode (so we send no key the client does not know),
 * and the constructors build what the fact sheet says.
 */
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {beforeAll, describe, expect, test} from 'vitest';
import {
  connectedMessage,
  encodeDownstream,
  errorMessage,
  pongMessage,
  type DownstreamMessage,
} from '../../src/protocol/sync-down.js';

type Reference = {
  parse(value: unknown, schema: unknown, mode?: 'strict' | 'passthrough'): unknown;
  downstreamSchema: unknown;
};
let reference: Reference;

beforeAll(async () => {
  const out = path.resolve('node_modules/@rocicorp/zero/out');
  const load = (file: string) => import(pathToFileURL(path.join(out, file)).href);
  const [valita, down] = await Promise.all([
    load('shared/src/valita.js'),
    load('zero-protocol/src/down.js'),
  ]);
  reference = {...valita, ...down} as Reference;
});

const mutationID = {clientID: 'c1', id: 4};

const messages: DownstreamMessage[] = [
  connectedMessage('ws1', 1_730_000_000_000),
  [
    'pokeStart',
    {
      pokeID: '1a2b',
      baseCookie: null,
      schemaVersions: {minSupportedVersion: 1, maxSupportedVersion: 1},
      timestamp: 1,
    },
  ],
  [
    'pokePart',
    {
      pokeID: '1a2b',
      lastMutationIDChanges: {c1: 4},
      desiredQueriesPatches: {
        c1: [
          {op: 'put', hash: 'h1'},
          {op: 'del', hash: 'h0'},
        ],
      },
      gotQueriesPatch: [{op: 'put', hash: 'h1'}, {op: 'clear'}],
      rowsPatch: [
        {op: 'put', tableName: 'issue', value: {id: 'i1', n: 1.5, j: {a: [1, null]}, b: true}},
        {op: 'update', tableName: 'issue', id: {id: 'i1'}, merge: {n: 2}, constrain: ['n']},
        {op: 'del', tableName: 'issue', id: {id: 'i0'}},
        {op: 'clear'},
      ],
      mutationsPatch: [
        {op: 'put', mutation: {id: mutationID, result: {data: {ok: 1}}}},
        {
          op: 'put',
          mutation: {id: mutationID, result: {error: 'app', message: 'nope', details: 1}},
        },
        {op: 'put', mutation: {id: mutationID, result: {error: 'alreadyProcessed'}}},
        {op: 'del', id: mutationID},
      ],
    },
  ],
  ['pokeEnd', {pokeID: '1a2b', cookie: '1a2b', cancel: false}],
  pongMessage(),
  errorMessage('Rehome', 'Reconnect required', {maxBackoffMs: 0}),
  ['deleteClients', {clientIDs: ['c9']}],
  [
    'transformError',
    [
      {error: 'app', id: 'q1', name: 'byOwner', message: 'denied', details: {why: 'x'}},
      {error: 'parse', id: 'q2', name: 'byOwner', message: 'bad AST'},
    ],
  ],
  ['inspect', {id: 'r1', op: 'authenticated', value: false}],
  ['inspect', {id: 'r2', op: 'version', value: '0.25.9'}],
  ['inspect', {id: 'r3', op: 'error', value: 'no such query'}],
  ['inspect', {id: 'r4', op: 'metrics', value: metrics()}],
  [
    'inspect',
    {
      id: 'r5',
      op: 'queries',
      value: [
        {
          clientID: 'c1',
          queryID: 'h1',
          ast: {table: 'issue'},
          name: null,
          args: null,
          got: true,
          deleted: false,
          ttl: 300000,
          inactivatedAt: null,
          rowCount: 3,
          metrics: metrics(),
        },
      ],
    },
  ],
  [
    'inspect',
    {
      id: 'r6',
      op: 'analyze-query',
      value: {
        warnings: [],
        syncedRows: {issue: [{id: 'i1'}]},
        syncedRowCount: 1,
        start: 1,
        end: 2,
        elapsed: 1,
        sqlitePlans: {issue: ['SCAN issue']},
        readRows: {issue: {'SELECT …': [{id: 'i1'}]}},
        readRowCountsByQuery: {issue: {'SELECT …': 1}},
        readRowCount: 1,
        dbScansByQuery: {issue: {'SELECT …': 1}},
        joinPlans: [{type: 'attempt-start', attemptNumber: 0, totalAttempts: 1}],
      },
    },
  ],
];

function metrics() {
  return {
    'query-materialization-server': [100, 1, 2] as [number, ...number[]],
    'query-update-server': [100] as [number],
  };
}

describe('every downstream message is one the reference accepts (strict)', () => {
  test.each(messages.map((m, i) => [`${m[0]} #${i}`, m]))('%s', (_name, message) => {
    const wire = JSON.parse(encodeDownstream(message as DownstreamMessage));
    expect(() => reference.parse(wire, reference.downstreamSchema, 'strict')).not.toThrow();
  });

  test('(control: strict mode does reject an unknown key)', () => {
    const wire = ['pokeEnd', {pokeID: 'p', cookie: 'c', extra: 1}];
    expect(() => reference.parse(wire, reference.downstreamSchema, 'strict')).toThrow();
  });
});

describe('constructors', () => {
  test('connected, pong and error', () => {
    const [type, body] = connectedMessage('w1');
    expect(type).toBe('connected');
    expect(body.wsid).toBe('w1');
    expect(Math.abs((body.timestamp ?? 0) - Date.now())).toBeLessThan(5_000);
    expect(pongMessage()).toEqual(['pong', {}]);
    expect(errorMessage('InvalidConnectionRequest', 'no clientSchema')).toEqual([
      'error',
      {kind: 'InvalidConnectionRequest', message: 'no clientSchema', origin: 'zeroCache'},
    ]);
  });
});
