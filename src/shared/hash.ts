/**
 * The string hashes Zero uses for ids (§2.4): xxHash32 over the UTF-8 bytes of a string.
 *
 * `h64` runs xxHash32 twice (seeds 0 and 1) and joins the two words into one unsigned 64-bit
 * number, `(seed0 << 32) + seed1`, printed in base 36 with no padding. Lone surrogates encode as
 * U+FFFD (TextEncoder's rule, as in the reference).
 */
import {xxHash32} from 'js-xxhash';

const encoder = new TextEncoder();

/** xxHash32 (seed 0) of the UTF-8 bytes of `s`, as an unsigned 32-bit number. */
export function h32(s: string): number {
  return xxHash32(encoder.encode(s), 0);
}

/** The 64-bit hash of `s` in base 36, e.g. `h64('abc') === 'rtjjvs99c9of'`. */
export function h64(s: string): string {
  const bytes = encoder.encode(s);
  const high = BigInt(xxHash32(bytes, 0));
  const low = BigInt(xxHash32(bytes, 1));
  return ((high << 32n) + low).toString(36);
}
