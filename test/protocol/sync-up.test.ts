/**
 * Upstream parsing: realistic messages (ASTs and the client schema made by the real 0.25.9 client
 * code) parse unchanged, bad ones fail with the path of the problem, and on every case we agree
 * with the reference's own `upstreamSchema` about accept / reject.
 */
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {beforeAll, describe, expect, test} from 'vitest';
import {boolean, createBuilder, createSchema, number, string, table} from '@rocicorp/zero';
import type {AST} from '../../src/protocol/ast.js';
import {ErrorKind} from '../../src/protocol/sync-errors.js';
import {
  InvalidMessageError,
  parseUpstreamMessage,
  parseUpstreamText,
  type ClientSchema,
} from '../../src/protocol/sync-up.js';

type Reference = {
  parse(value: unknown, schema: unknown): unknown;
  upstreamSchema: unknown;
  clientSchemaFrom(schema: unknown): {clientSchema: ClientSchema};
};
let reference: Reference;

beforeAll(async () => {
  const out = path.resolve('node_modules/@rocicorp/zero/out');
  const load = (file: string) => import(pathToFileURL(path.join(out, file)).href);
  const [valita, up, schemaBuilder] = await Promise.all([
    load('shared/src/valita.js'),
    load('zero-protocol/src/up.js'),
    load('zero-schema/src/builder/schema-builder.js'),
  ]);
  reference = {...valita, ...up, ...schemaBuilder} as Reference;
});

function appSchema() {
  const issue = table('issue')
    .columns({id: string(), title: string(), open: boolean(), created: number()})
    .primaryKey('id');
  const comment = table('comment')
    .from('comments')
    .columns({id: string(), issueID: string().from('issue_id'), body: string()})
    .primaryKey('id');
  return createSchema({tables: [issue, comment]});
}

/** The AST of a legacy query, as the real client's query builder makes it. */
function clientAST(): AST {
  const zql = createBuilder(appSchema());
  const query = zql.issue.where('open', true).orderBy('created', 'desc').limit(20);
  return JSON.parse(JSON.stringify((query as unknown as {ast: AST}).ast)) as AST;
}

function initConnection(): unknown {
  return [
    'initConnection',
    {
      desiredQueriesPatch: [
        {op: 'put', hash: '1x2y3z', ast: clientAST(), ttl: 300_000},
        {op: 'put', hash: 'abc123', name: 'issuesByOwner', args: [{ownerID: 'u1', n: 3}], ttl: 0},
        {op: 'del', hash: 'old1'},
      ],
      deleted: {clientIDs: ['gone1']},
      clientSchema: reference.clientSchemaFrom(appSchema()).clientSchema,
      userPushURL: 'https://app.example/api/push',
      activeClients: ['c1', 'c2'],
    },
  ];
}

const customPush = () => [
  'push',
  {
    clientGroupID: 'cg1',
    mutations: [
      {
        type: 'custom',
        id: 7,
        clientID: 'c1',
        name: 'issue.create',
        args: [{id: 'i1', title: 'Hello', labels: ['a', null], meta: {nested: {x: 1.5}}}],
        timestamp: 1_730_000_000_000,
      },
    ],
    pushVersion: 1,
    timestamp: 1_730_000_000_001,
    requestID: 'c1-0a-7',
  },
];

const crudPush = () => [
  'push',
  {
    clientGroupID: 'cg1',
    mutations: [
      {
        type: 'crud',
        id: 8,
        clientID: 'c1',
        name: '_zero_crud',
        args: [
          {
            ops: [
              {op: 'insert', tableName: 'issue', primaryKey: ['id'], value: {id: 'i2', open: true}},
              {op: 'update', tableName: 'issue', primaryKey: ['id'], value: {id: 'i2', title: 'x'}},
              {op: 'upsert', tableName: 'issue', primaryKey: ['id'], value: {id: 'i3', n: null}},
              {op: 'delete', tableName: 'comments', primaryKey: ['id'], value: {id: 'k1'}},
            ],
          },
        ],
        timestamp: 1_730_000_000_000,
      },
    ],
    pushVersion: 1,
    schemaVersion: 1,
    timestamp: 1_730_000_000_001,
    requestID: 'c1-0a-8',
  },
];

const validMessages: Record<string, () => unknown> = {
  initConnection,
  customPush,
  crudPush,
  changeDesiredQueries: () => ['changeDesiredQueries', {desiredQueriesPatch: [{op: 'clear'}]}],
  deleteClients: () => ['deleteClients', {clientIDs: ['a'], clientGroupIDs: []}],
  ackMutationResponses: () => ['ackMutationResponses', {clientID: 'c1', id: 8}],
  ping: () => ['ping', {}],
  pull: () => ['pull', {clientGroupID: 'cg1', cookie: null, requestID: 'r1'}],
  closeConnection: () => ['closeConnection', ['anything', 1]],
  inspectAuthenticate: () => ['inspect', {id: 'q1', op: 'authenticate', value: 'secret'}],
  inspectQueries: () => ['inspect', {id: 'q2', op: 'queries', clientID: 'c1'}],
  inspectMetrics: () => ['inspect', {id: 'q3', op: 'metrics'}],
  inspectVersion: () => ['inspect', {id: 'q4', op: 'version'}],
  inspectAnalyze: () => [
    'inspect',
    {id: 'q5', op: 'analyze-query', ast: clientAST(), options: {syncedRows: true, joinPlans: true}},
  ],
};

describe('valid messages', () => {
  test.each(Object.keys(validMessages))('%s parses unchanged, as the reference', (name) => {
    const message = validMessages[name]!();
    expect(parseUpstreamMessage(message)).toEqual(message);
    expect(() => reference.parse(message, reference.upstreamSchema)).not.toThrow();
  });

  test('the parsed initConnection is typed and keeps every field', () => {
    const [type, body] = parseUpstreamMessage(initConnection());
    expect(type).toBe('initConnection');
    if (type !== 'initConnection') return;
    expect(body.desiredQueriesPatch.map((op) => op.op)).toEqual(['put', 'put', 'del']);
    expect(body.clientSchema?.tables['comments']?.columns['issue_id']).toEqual({type: 'string'});
    expect(body.clientSchema?.tables['issue']?.primaryKey).toEqual(['id']);
    expect(body.activeClients).toEqual(['c1', 'c2']);
  });

  test('parseUpstreamText parses a text frame', () => {
    expect(parseUpstreamText('["ping",{}]')).toEqual(['ping', {}]);
  });
});

/** [case, message, expected path, expected words in the message] */
const invalidMessages: [string, unknown, string, string][] = [
  ['non-array message', {type: 'ping'}, 'message', 'expected an array [type, body]'],
  ['array of 3', ['ping', {}, {}], 'message', 'length 3'],
  ['unknown type', ['hello', {}], 'message[0]', 'unknown message type "hello"'],
  ['type not a string', [7, {}], 'message[0]', 'unknown message type 7'],
  ['unknown key at the root body', ['ping', {x: 1}], 'message[1]', 'unknown key "x"'],
  [
    'unknown key in a query put',
    ['changeDesiredQueries', {desiredQueriesPatch: [{op: 'put', hash: 'h', extra: true}]}],
    'message[1].desiredQueriesPatch[0]',
    'unknown key "extra"',
  ],
  [
    'unknown key deep in an AST',
    [
      'changeDesiredQueries',
      {desiredQueriesPatch: [{op: 'put', hash: 'h', ast: {table: 't', x: 1}}]},
    ],
    'message[1].desiredQueriesPatch[0].ast',
    'unknown key "x"',
  ],
  [
    'clientSchema without primaryKey (pre-v41 shape)',
    ['initConnection', {desiredQueriesPatch: [], clientSchema: {tables: {t: {columns: {}}}}}],
    'message[1].clientSchema.tables.t.primaryKey',
    'missing',
  ],
  [
    'bad column type',
    [
      'initConnection',
      {
        desiredQueriesPatch: [],
        clientSchema: {tables: {t: {columns: {a: {type: 'date'}}, primaryKey: []}}},
      },
    ],
    'message[1].clientSchema.tables.t.columns.a.type',
    '"date"',
  ],
  ['wrong type', ['ackMutationResponses', {clientID: 'c1', id: '8'}], 'message[1].id', 'number'],
  [
    'missing body field',
    ['pull', {clientGroupID: 'g', requestID: 'r'}],
    'message[1].cookie',
    'missing',
  ],
  [
    'unknown query op',
    ['changeDesiredQueries', {desiredQueriesPatch: [{op: 'zap'}]}],
    'message[1].desiredQueriesPatch[0].op',
    '"zap"',
  ],
  ['unknown inspect op', ['inspect', {id: 'q', op: 'nope'}], 'message[1].op', '"nope"'],
  [
    'inspect authenticate without password',
    ['inspect', {id: 'q', op: 'authenticate'}],
    'message[1].value',
    'missing',
  ],
  [
    'empty primaryKey in a CRUD op',
    withCrudOp({op: 'insert', tableName: 't', primaryKey: [], value: {}}),
    'message[1].mutations[0].args[0].ops[0].primaryKey',
    'array',
  ],
  [
    'null in a delete key',
    withCrudOp({op: 'delete', tableName: 't', primaryKey: ['id'], value: {id: null}}),
    'message[1].mutations[0].args[0].ops[0].value.id',
    'null',
  ],
  [
    'crud mutation with another name',
    withMutation({name: 'other'}),
    'message[1].mutations[0].name',
    '"_zero_crud"',
  ],
  [
    'unknown key in a mutation',
    withMutation({extra: 1}),
    'message[1].mutations[0]',
    'unknown key "extra"',
  ],
  ['closeConnection body not an array', ['closeConnection', {}], 'message[1]', 'array'],
];

function withMutation(change: object): unknown {
  const [type, body] = crudPush() as [string, {mutations: object[]}];
  return [type, {...body, mutations: [{...body.mutations[0], ...change}]}];
}

function withCrudOp(op: object): unknown {
  return withMutation({args: [{ops: [op]}]});
}

describe('invalid messages', () => {
  test.each(invalidMessages)('%s', (_name, message, where, words) => {
    let error: unknown;
    try {
      parseUpstreamMessage(message);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidMessageError);
    const invalid = error as InvalidMessageError;
    expect(invalid.path).toBe(where);
    expect(invalid.message).toContain(where);
    expect(invalid.message).toContain(words);
    expect(invalid.kind).toBe(ErrorKind.InvalidMessage);
    expect(invalid.toMessage()).toEqual([
      'error',
      {kind: 'InvalidMessage', message: invalid.message, origin: 'zeroCache'},
    ]);
    expect(() => reference.parse(message, reference.upstreamSchema)).toThrow();
  });

  test('text that is not JSON is an InvalidMessage error', () => {
    expect(() => parseUpstreamText('["ping",')).toThrow(InvalidMessageError);
    expect(() => parseUpstreamText('["ping",')).toThrow(/not JSON/);
  });

  test('input nested too deeply for the schema is an InvalidMessage error, not a crash', () => {
    let where: unknown = {
      type: 'simple',
      op: '=',
      left: {type: 'column', name: 'a'},
      right: {type: 'literal', value: 1},
    };
    for (let i = 0; i < 100_000; i++) {
      where = {type: 'and', conditions: [where]};
    }
    const message = [
      'changeDesiredQueries',
      {desiredQueriesPatch: [{op: 'put', hash: 'h', ast: {table: 't', where}}]},
    ];
    expect(() => parseUpstreamMessage(message)).toThrow(InvalidMessageError);
    expect(() => parseUpstreamMessage(message)).toThrow(/nested too deeply/);
  });

  test('a non-JSON value inside args is rejected with its path', () => {
    const [type, body] = customPush() as [string, {mutations: object[]}];
    const message = [type, {...body, mutations: [{...body.mutations[0], args: [{f: () => 1}]}]}];
    expect(() => parseUpstreamMessage(message)).toThrow(
      /at message\[1\]\.mutations\[0\]\.args\[0\]\.f: not a JSON value/,
    );
  });
});
