/**
 * Error kinds, origins and reasons are exactly the reference's; the bodies we build are ones the
 * reference's (strict) error schema accepts; ProtocolError carries its body to the wire.
 */
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {beforeAll, describe, expect, test} from 'vitest';
import {
  BACKOFF_ERROR_KINDS,
  BASIC_ERROR_KINDS,
  errorBody,
  ErrorKind,
  ErrorOrigin,
  ErrorReason,
  isBackoffErrorKind,
  ProtocolError,
  type ErrorBody,
} from '../../src/protocol/sync-errors.js';

type Reference = {
  kinds: Record<string, string>;
  origins: Record<string, string>;
  reasons: Record<string, string>;
  parse(value: unknown, schema: unknown): unknown;
  errorMessageSchema: unknown;
};
let reference: Reference;

beforeAll(async () => {
  const out = path.resolve('node_modules/@rocicorp/zero/out');
  const load = (file: string) => import(pathToFileURL(path.join(out, file)).href);
  const [kinds, origins, reasons, valita, error] = await Promise.all([
    load('zero-protocol/src/error-kind-enum.js'),
    load('zero-protocol/src/error-origin-enum.js'),
    load('zero-protocol/src/error-reason-enum.js'),
    load('shared/src/valita.js'),
    load('zero-protocol/src/error.js'),
  ]);
  reference = {kinds, origins, reasons, ...valita, ...error} as Reference;
});

const sorted = (values: Iterable<string>) => [...values].sort();

describe('enums equal the reference', () => {
  test('ErrorKind', () => {
    expect(sorted(Object.values(ErrorKind))).toEqual(sorted(Object.values(reference.kinds)));
    const grouped = [...BASIC_ERROR_KINDS, ...BACKOFF_ERROR_KINDS, 'PushFailed', 'TransformFailed'];
    expect(sorted(grouped)).toEqual(sorted(Object.values(ErrorKind)));
  });

  test('ErrorOrigin and ErrorReason', () => {
    expect(ErrorOrigin).toEqual({...reference.origins});
    expect(ErrorReason).toEqual({...reference.reasons});
  });
});

describe('bodies the reference accepts', () => {
  const bodies: ErrorBody[] = [
    errorBody('InvalidPush', 'Push contains unexpected mutation id'),
    errorBody('Unauthorized', 'token sub changed', {origin: 'server'}),
    errorBody('Rehome', 'Reconnect required', {maxBackoffMs: 0}),
    errorBody('ServerOverloaded', 'busy', {minBackoffMs: 100, reconnectParams: {hint: 'x'}}),
    {
      kind: 'PushFailed',
      message: 'API server returned 500',
      mutationIDs: [{clientID: 'c1', id: 3}],
      origin: 'zeroCache',
      reason: 'http',
      status: 500,
      bodyPreview: 'Internal Server Error',
    },
    {
      kind: 'PushFailed',
      message: 'out of order',
      mutationIDs: [{clientID: 'c1', id: 3}],
      origin: 'server',
      reason: 'oooMutation',
      details: {expected: 2},
    },
    {
      kind: 'TransformFailed',
      message: 't/o',
      queryIDs: ['q1'],
      origin: 'zeroCache',
      reason: 'timeout',
    },
  ];
  test.each(bodies.map((body) => [body.kind, body]))('%s', (_kind, body) => {
    expect(() => reference.parse(['error', body], reference.errorMessageSchema)).not.toThrow();
  });
});

describe('errorBody and ProtocolError', () => {
  test('errorBody defaults origin to zeroCache, and extra overrides it', () => {
    expect(errorBody('Internal', 'boom')).toEqual({
      kind: 'Internal',
      message: 'boom',
      origin: 'zeroCache',
    });
    expect(errorBody('Internal', 'boom', {origin: 'server'}).origin).toBe('server');
  });

  test('a ProtocolError carries its body to the error message', () => {
    const error = ProtocolError.of('ClientNotFound', 'purged due to inactivity');
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('purged due to inactivity');
    expect(error.kind).toBe('ClientNotFound');
    expect(error.isTransient).toBe(false);
    expect(error.toMessage()).toEqual([
      'error',
      {kind: 'ClientNotFound', message: 'purged due to inactivity', origin: 'zeroCache'},
    ]);
  });

  test('MutationFailed and MutationRateLimited are transient', () => {
    expect(ProtocolError.of('MutationRateLimited', 'slow down').isTransient).toBe(true);
    expect(ProtocolError.of('MutationFailed', 'no').isTransient).toBe(true);
  });

  test('isBackoffErrorKind', () => {
    expect(isBackoffErrorKind('Rehome')).toBe(true);
    expect(isBackoffErrorKind('Internal')).toBe(false);
  });
});
