import {expect, test} from 'vitest';
import {EndpointAllowList} from './endpoint-url.js';

const allowList = new EndpointAllowList('ZERO_MUTATE_URL', ['https://api.example.com/push']);

test('an allowed URL is chosen whole, its query string kept for the request', () => {
  expect(allowList.choose('https://api.example.com/push?key=k1')).toEqual({
    ok: true,
    url: 'https://api.example.com/push?key=k1',
  });
});

test('a refused URL is named by origin and path only: no query-string key, no user or password', () => {
  const choice = allowList.choose('https://admin:pw-9@evil.example.com/push?key=k1');
  expect(choice).toEqual({
    ok: false,
    message:
      'URL https://evil.example.com/push is not allowed by the ZERO_MUTATE_URL configuration',
  });
});

test('a configured value that is not a URL is named by its option, not quoted', () => {
  // A valid pattern (any port) but not a URL.
  const odd = new EndpointAllowList('ZERO_MUTATE_URL', ['https://api.example.com:*/push?key=k1']);
  expect(odd.choose(undefined)).toEqual({
    ok: false,
    message: 'The first ZERO_MUTATE_URL value is not a valid URL.',
  });
});
