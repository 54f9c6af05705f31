import {createHash, timingSafeEqual} from 'node:crypto';

/**
 * Whether a supplied password equals the expected one, in time that depends on neither: both are
 * hashed (SHA-256) first, so the comparison always runs over 32 bytes and leaks neither how many
 * leading characters matched nor the expected password's length.
 */
export function passwordMatches(supplied: string, expected: string): boolean {
  return timingSafeEqual(sha256(supplied), sha256(expected));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
