import {expect, test} from 'vitest';
import {
  compareVersions,
  oneAfter,
  parseCookie,
  versionString,
  EMPTY_CVR_VERSION,
} from './cvr-version.js';

test('cookies print as state version, plus a lexi minor version after a config change', () => {
  expect(versionString(EMPTY_CVR_VERSION)).toBe('00');
  expect(versionString(oneAfter(EMPTY_CVR_VERSION))).toBe('00:01');
  expect(versionString(oneAfter(oneAfter({stateVersion: '4e672g'})))).toBe('4e672g:02');
  expect(parseCookie('4e672g:0a')).toEqual({stateVersion: '4e672g', minorVersion: 10});
});

test('cookie order is version order', () => {
  const versions = [
    '00',
    '00:01',
    '00:02',
    '4e672g',
    '4e672g:01',
    '4e672g:0z',
    '4e672g:110',
    '4e672h',
  ];
  const parsed = versions.map(parseCookie);
  for (let i = 1; i < parsed.length; i++) {
    expect(compareVersions(parsed[i - 1]!, parsed[i]!)).toBeLessThan(0);
    expect(versions[i - 1]! < versions[i]!).toBe(true);
  }
  expect(compareVersions(null, parsed[0]!)).toBeLessThan(0);
});

test('malformed cookies are rejected', () => {
  expect(() => parseCookie('')).toThrow(/malformed/);
  expect(() => parseCookie('4e672g:00')).toThrow(/minor/);
  expect(() => parseCookie('a:b:c')).toThrow(/malformed/);
});
