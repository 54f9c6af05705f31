import {SignJWT} from 'jose';

/** A ZERO_AUTH_SECRET for tests that verify tokens. */
export const TEST_AUTH_SECRET = 'a-test-secret-of-sufficient-length-0123456789';

/** An HS256 token for `sub`, valid for an hour, signed with `secret` (ZERO_AUTH_SECRET). */
export function hs256Token(
  secret: string,
  sub: string,
  claims: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({alg: 'HS256'})
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
}
