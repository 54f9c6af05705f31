import {versionFromLexi, versionToLexi, type LexiVersion} from './lexi-version.js';

/** A Postgres log sequence number, as text `H/L` (hex), as a bigint, or as a LexiVersion watermark. */

export function lsnToBigInt(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`lsn: malformed "${lsn}"`);
  return (BigInt('0x' + m[1]) << 32n) + BigInt('0x' + m[2]);
}

export function bigIntToLsn(n: bigint): string {
  const hi = n >> 32n;
  const lo = n & 0xffffffffn;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

export function lsnToWatermark(lsn: string | bigint): LexiVersion {
  return versionToLexi(typeof lsn === 'bigint' ? lsn : lsnToBigInt(lsn));
}

export function watermarkToLsn(w: LexiVersion): bigint {
  return versionFromLexi(w);
}
