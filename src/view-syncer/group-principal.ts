import {createHash} from 'node:crypto';
import type {ApiServerAuth} from '../custom/api-server-call.js';
import {ProtocolError} from '../protocol/sync-errors.js';

/**
 * A client group belongs to one principal: the user its first connection came as. The group's
 * rows, its custom queries (run with its credentials) and its pushes are that user's, so a
 * connection of anyone else is refused before it gets anything. The principal is stored in the
 * CVR, so the pin outlives the view-syncer (and the process) that set it.
 *
 * A connection's principal is, in this order:
 * - `jwt:<sha256 of sub>` when tokens are verified (ZERO_AUTH_*): another `sub` is another user;
 * - `token` for an unverified (opaque) token, `cookie` for forwarded cookies without a token;
 * - `anonymous` otherwise.
 *
 * Opaque credentials are compared by kind only. zcache cannot tell a refreshed token, or a rotated
 * session cookie, from another user's; the reference accepts a changed opaque token (and uses the
 * newest), and an app's tokens and cookies do rotate while its client group lives on (in the
 * browser's storage), so pinning their value would lock such clients out for good. What is
 * refused is a change of kind: a connection without a token joining a group that has one, and the
 * reverse — a credential appearing or disappearing is not a refresh.
 */
export type Principal = string;

export function principalOf(auth: ApiServerAuth, cookiesForwarded: boolean): Principal {
  if (auth.authData !== undefined) {
    const sub = (auth.authData as {sub?: unknown}).sub;
    return `jwt:${sha256(JSON.stringify(sub ?? null))}`;
  }
  if (auth.token) return 'token';
  if (cookiesForwarded && auth.cookie) return 'cookie';
  return 'anonymous';
}

/**
 * Unauthorized when `principal` may not connect to a group pinned to `pinned` (null: not pinned
 * yet). The message is the same whatever the mismatch, so it tells nothing about the group's user.
 */
export function checkPrincipal(pinned: Principal | null, principal: Principal): void {
  if (pinned === null || pinned === principal) return;
  throw ProtocolError.of(
    'Unauthorized',
    'This connection is not authorized for this client group: a client group belongs to the ' +
      'user who created it.',
  );
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
