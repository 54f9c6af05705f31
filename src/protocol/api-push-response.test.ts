import {expect, test} from 'vitest';
import {parsePushResponse} from './api-push-response.js';

const id = {clientID: 'c1', id: 3};

test('per-mutation results: success, application error, out of order, already processed', () => {
  expect(
    parsePushResponse({
      mutations: [
        {id, result: {}},
        {id, result: {error: 'app', message: 'no', details: {x: 1}}},
        {id, result: {error: 'oooMutation'}},
        {id, result: {error: 'alreadyProcessed'}},
      ],
    }),
  ).toEqual({
    kind: 'results',
    results: [
      {id, result: {kind: 'ok'}},
      {id, result: {kind: 'app', message: 'no', details: {x: 1}}},
      {id, result: {kind: 'oooMutation'}},
      {id, result: {kind: 'alreadyProcessed'}},
    ],
  });
});

test("1.x helpers' MutateResponse envelope: the same results, with the user they acted for", () => {
  const mutations = [{id, result: {}}];
  expect(parsePushResponse({kind: 'MutateResponse', mutations, userID: 'u1'})).toEqual({
    kind: 'results',
    results: [{id, result: {kind: 'ok'}}],
    userID: 'u1',
  });
  expect(parsePushResponse({kind: 'MutateResponse', mutations, userID: null})).toMatchObject({
    userID: null,
  });
  expect(parsePushResponse({kind: 'MutateResponse', mutations, later: 1})).toMatchObject({
    kind: 'results',
    userID: undefined,
  });
  expect(parsePushResponse({kind: 'MutateResponse', mutations: 'x'}).kind).toBe('unparsable');
});

test("the API server's own PushFailed body", () => {
  expect(
    parsePushResponse({
      kind: 'PushFailed',
      origin: 'server',
      reason: 'database',
      message: 'db down',
      mutationIDs: [id],
    }),
  ).toMatchObject({
    kind: 'failed',
    failure: {origin: 'server', reason: 'database'},
    mutationIDs: [id],
  });
});

test('legacy error forms become the PushFailed they mean', () => {
  expect(parsePushResponse({error: 'unsupportedPushVersion'})).toMatchObject({
    kind: 'failed',
    failure: {reason: 'unsupportedPushVersion'},
  });
  expect(parsePushResponse({error: 'http', status: 502, details: 'bad gateway'})).toMatchObject({
    failure: {origin: 'zeroCache', reason: 'http', status: 502, bodyPreview: 'bad gateway'},
  });
});

test('anything else is unparsable, with a preview of what came', () => {
  const r = parsePushResponse({mutations: [{id, result: {error: 'surprise'}}]});
  expect(r).toMatchObject({kind: 'unparsable'});
  expect((r as {message: string}).message).toContain('surprise');
  expect(parsePushResponse('nope')).toMatchObject({kind: 'unparsable'});
});
