import {createServer} from 'node:net';
import {SignJWT} from 'jose';
import {describe, expect, test} from 'vitest';
import {TokenRejectedError, tokenVerifierFrom} from './token-verifier.js';

const SECRET = 'a-test-secret-of-sufficient-length-0123456789';
const sign = (sub: string, secret = SECRET) =>
  new SignJWT({})
    .setProtectedHeader({alg: 'HS256'})
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as {port: number}).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('what a token refusal may tell the client', () => {
  test('a token signed with another key is rejected as the token’s own fault', async () => {
    const verifier = (await tokenVerifierFrom({secret: SECRET}))!;
    const error = await verifier.verify(await sign('alice', SECRET + 'x'), 'alice').catch((e) => e);
    expect(error).toBeInstanceOf(TokenRejectedError);
    expect(error.message).toMatch(/signature verification failed/);
  });

  test('a token for another user is rejected as the token’s own fault', async () => {
    const verifier = (await tokenVerifierFrom({secret: SECRET}))!;
    const error = await verifier.verify(await sign('alice'), 'bob').catch((e) => e);
    expect(error).toBeInstanceOf(TokenRejectedError);
  });

  test('an unreachable JWKS endpoint is not the token’s fault (its details stay in the log)', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/jwks`;
    const verifier = (await tokenVerifierFrom({jwksUrl: url}))!;
    // A well-formed RS256 token: verifying it needs the key set, which cannot be fetched.
    const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJhbGljZSJ9.c2ln';
    const error = await verifier.verify(token, 'alice').catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(TokenRejectedError);
  });
});

test('with ZERO_AUTH_ISSUER and _AUDIENCE a token must carry both, as the token’s own fault', async () => {
  const verifier = (await tokenVerifierFrom({secret: SECRET, issuer: 'me', audience: 'app'}))!;
  const key = new TextEncoder().encode(SECRET);
  const token = (iss?: string, aud?: string) => {
    const jwt = new SignJWT({}).setProtectedHeader({alg: 'HS256'}).setSubject('alice');
    if (iss) jwt.setIssuer(iss);
    if (aud) jwt.setAudience(aud);
    return jwt.setExpirationTime('1h').sign(key);
  };
  await expect(verifier.verify(await token('me', 'app'), 'alice')).resolves.toMatchObject({
    sub: 'alice',
  });
  for (const [iss, aud] of [['other', 'app'], ['me', 'other'], [undefined, 'app'], ['me']])
    await expect(verifier.verify(await token(iss, aud), 'alice')).rejects.toBeInstanceOf(
      TokenRejectedError,
    );
});
