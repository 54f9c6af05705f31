/**
 * LexiVersion: a non-negative integer as a string whose lexicographic order equals numeric order.
 * base36(n) prefixed by one base36 digit holding base36(n).length − 1 (0 → "00", 36 → "110").
 */
export type LexiVersion = string;

const MAX_DIGITS = 36;

export function versionToLexi(v: bigint | number): LexiVersion {
  const n = BigInt(v);
  if (n < 0n) throw new Error(`lexi-version: negative version ${n}`);
  const b36 = n.toString(36);
  if (b36.length > MAX_DIGITS) throw new Error(`lexi-version: ${n} is too large`);
  return (b36.length - 1).toString(36) + b36;
}

export function versionFromLexi(lexi: LexiVersion): bigint {
  if (lexi.length < 2) throw new Error(`lexi-version: malformed "${lexi}"`);
  const len = parseInt(lexi[0]!, 36) + 1;
  const body = lexi.slice(1);
  if (body.length !== len || !/^[0-9a-z]+$/.test(body)) {
    throw new Error(`lexi-version: malformed "${lexi}"`);
  }
  let n = 0n;
  for (const ch of body) n = n * 36n + BigInt(parseInt(ch, 36));
  return n;
}

/** Asserts `next` > `prev` (watermarks only move forward). */
export function assertAdvances(prev: LexiVersion, next: LexiVersion, what: string): void {
  if (!(next > prev)) {
    throw new Error(`${what}: version must advance, but ${next} does not follow ${prev}`);
  }
}
