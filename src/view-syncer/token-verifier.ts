import {
  createRemoteJWKSet,
  importJWK,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import {internalErrorMessage, newErrorId} from '../shared/error-id.js';
import type {Logger} from '../shared/log.js';
import {ErrorKind, ErrorOrigin, ProtocolError} from '../protocol/sync-errors.js';

/**
 * JWT verification for the (deprecated but supported) ZERO_AUTH_JWK / _JWKS_URL / _SECRET options
 * (fact sheet §2.13): the token's signature and exp/nbf are checked, and its `sub` must equal the
 * connection's non-empty userID. The payload becomes `authData` for permission rules.
 */
/**
 * The token itself was refused (bad signature, expired, wrong subject, malformed): the message is
 * about the client's own token and safe to send it. Any other failure (the JWKS endpoint down, say)
 * can name hosts, and goes to the log only.
 */
export class TokenRejectedError extends Error {
  override readonly name = 'TokenRejectedError';
}

/**
 * The AuthInvalidated error for a token that failed verification. Only a refusal of the token
 * itself is described; a failure to verify it (the JWKS endpoint unreachable) can name hosts, so
 * the client gets an error id and the log the cause.
 */
export function tokenRefusal(e: Error, clientID: string, log: Logger): ProtocolError {
  const id = newErrorId();
  log.info(`rejecting client ${clientID}'s token (error id ${id}): ${e.message}`, e.cause);
  const reason =
    e instanceof TokenRejectedError
      ? e.message
      : internalErrorMessage('the token could not be verified', id);
  return new ProtocolError({
    kind: ErrorKind.AuthInvalidated,
    message: `Failed to decode auth token: ${reason}`,
    origin: ErrorOrigin.ZeroCache,
  });
}

const TOKEN_ERROR_CODE = /^ERR_(JWT|JWS)_|^ERR_JWKS_(NO|MULTIPLE)_MATCHING_KEYS?$/;

export interface TokenVerifier {
  verify(token: string | undefined, userID: string): Promise<JWTPayload>;
}

export interface AuthOptions {
  jwk?: string | undefined;
  jwksUrl?: string | undefined;
  secret?: string | undefined;
  /** ZERO_AUTH_ISSUER: the `iss` a token must carry. */
  issuer?: string | undefined;
  /** ZERO_AUTH_AUDIENCE: the `aud` a token must carry. */
  audience?: string | undefined;
}

export async function tokenVerifierFrom(auth: AuthOptions): Promise<TokenVerifier | undefined> {
  const set = [auth.jwk, auth.jwksUrl, auth.secret].filter(Boolean).length;
  if (set === 0) return undefined;
  if (set > 1)
    throw new Error(
      'Only one of ZERO_AUTH_JWK, ZERO_AUTH_JWKS_URL and ZERO_AUTH_SECRET may be set.',
    );
  let key: Uint8Array | object | JWTVerifyGetKey;
  if (auth.secret) key = new TextEncoder().encode(auth.secret);
  else if (auth.jwk) key = await importJWK(JSON.parse(auth.jwk));
  else key = createRemoteJWKSet(new URL(auth.jwksUrl!));
  return {
    async verify(token, userID) {
      if (!token) throw new TokenRejectedError('no auth token was provided');
      let payload: JWTPayload;
      try {
        ({payload} = await jwtVerify(token, key as never, {
          ...(auth.issuer ? {issuer: auth.issuer} : {}),
          ...(auth.audience ? {audience: auth.audience} : {}),
        }));
      } catch (e) {
        const code = (e as {code?: unknown}).code;
        if (typeof code === 'string' && TOKEN_ERROR_CODE.test(code))
          throw new TokenRejectedError((e as Error).message);
        throw e;
      }
      if (userID && payload.sub !== userID) {
        throw new TokenRejectedError(
          `the token's sub "${payload.sub}" does not match userID "${userID}"`,
        );
      }
      return payload;
    },
  };
}
