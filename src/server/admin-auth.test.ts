import type http from 'node:http';
import {expect, test} from 'vitest';
import {isAdmin} from './admin-auth.js';

/** A request carrying only the header isAdmin reads. */
function request(basicCredentials?: string): http.IncomingMessage {
  const authorization =
    basicCredentials === undefined
      ? undefined
      : `Basic ${Buffer.from(basicCredentials).toString('base64')}`;
  return {headers: {authorization}} as http.IncomingMessage;
}

test('with a password configured, development mode still requires it', () => {
  const cfg = {password: 'sesame', development: true};
  expect(isAdmin(request(), cfg)).toBe(false);
  expect(isAdmin(request('admin:wrong'), cfg)).toBe(false);
  expect(isAdmin(request('admin:sesame'), cfg)).toBe(true);
});

test('the password is compared whole: a prefix or an extension of it fails', () => {
  const cfg = {password: 'sesame', development: false};
  expect(isAdmin(request('admin:sesam'), cfg)).toBe(false);
  expect(isAdmin(request('admin:sesame!'), cfg)).toBe(false);
  expect(isAdmin(request('admin:'), cfg)).toBe(false);
});

test('with no password configured, only development mode lets in, and only without credentials', () => {
  expect(isAdmin(request(), {password: undefined, development: true})).toBe(true);
  expect(isAdmin(request('admin:guess'), {password: undefined, development: true})).toBe(false);
  expect(isAdmin(request(), {password: undefined, development: false})).toBe(false);
});
