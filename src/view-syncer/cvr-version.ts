import {versionFromLexi, versionToLexi, type LexiVersion} from '../shared/lexi-version.js';

/**
 * The version of a client view record, and its string form, the cookie clients hold (fact sheet
 * §2.2): `stateVersion` is the replica version the view was computed at; `minorVersion` counts
 * config-only changes (query set changes) since then. `00` is the empty CVR; `4e672g:01` is one
 * config change after state 4e672g. Cookies order lexicographically like the versions they encode.
 */
export interface CVRVersion {
  readonly stateVersion: LexiVersion;
  readonly minorVersion?: number | undefined;
}

export const EMPTY_CVR_VERSION: CVRVersion = {stateVersion: '00'};

export function versionString(v: CVRVersion): string {
  return v.minorVersion ? `${v.stateVersion}:${versionToLexi(v.minorVersion)}` : v.stateVersion;
}

export function parseCookie(cookie: string): CVRVersion {
  const [state, minor, ...rest] = cookie.split(':');
  if (!state || rest.length > 0) throw new Error(`malformed cookie "${cookie}"`);
  versionFromLexi(state); // validates
  if (minor === undefined) return {stateVersion: state};
  const n = Number(versionFromLexi(minor));
  if (n <= 0) throw new Error(`malformed cookie "${cookie}": minor version must be positive`);
  return {stateVersion: state, minorVersion: n};
}

export function compareVersions(a: CVRVersion | null, b: CVRVersion | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (a.stateVersion !== b.stateVersion) return a.stateVersion < b.stateVersion ? -1 : 1;
  return (a.minorVersion ?? 0) - (b.minorVersion ?? 0);
}

/** The next config-only version: same state, minor + 1. */
export function oneAfter(v: CVRVersion): CVRVersion {
  return {stateVersion: v.stateVersion, minorVersion: (v.minorVersion ?? 0) + 1};
}
