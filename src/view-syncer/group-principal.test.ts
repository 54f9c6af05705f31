import {expect, test} from 'vitest';
import {checkPrincipal, principalOf} from './group-principal.js';

const jwt = (sub: string) => ({token: `jwt-of-${sub}`, authData: {sub}});

test('a verified token is its subject; an opaque token, forwarded cookies or nothing is a kind', () => {
  expect(principalOf(jwt('alice'), false)).toBe(principalOf(jwt('alice'), false));
  expect(principalOf(jwt('alice'), false)).not.toBe(principalOf(jwt('bob'), false));
  expect(principalOf(jwt('alice'), false)).not.toContain('alice');
  expect(principalOf({token: 'opaque-1'}, true)).toBe(principalOf({token: 'opaque-2'}, true));
  expect(principalOf({cookie: 's=1'}, true)).toBe('cookie');
  expect(principalOf({cookie: 's=1'}, false)).toBe('anonymous');
  expect(principalOf({}, true)).toBe('anonymous');
});

test('only a connection of the pinned principal is admitted, and the refusal names no one', () => {
  const alice = principalOf(jwt('alice'), false);
  expect(() => checkPrincipal(null, alice)).not.toThrow();
  expect(() => checkPrincipal(alice, alice)).not.toThrow();
  expect(() => checkPrincipal('token', 'token')).not.toThrow();
  for (const [pinned, other] of [
    [alice, principalOf(jwt('bob'), false)],
    ['token', 'anonymous'],
    ['anonymous', 'token'],
    ['cookie', 'token'],
  ] as const) {
    expect(() => checkPrincipal(pinned, other)).toThrow(
      expect.objectContaining({body: expect.objectContaining({kind: 'Unauthorized'})}),
    );
  }
  let message = '';
  try {
    checkPrincipal(alice, principalOf(jwt('bob'), false));
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message).not.toMatch(/alice|bob|jwt:/);
});
