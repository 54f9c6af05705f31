import type {ApiServerAuth} from './api-server-call.js';

/**
 * A 1.x API server says whom it acted for (`userID` in its MutateResponse / QueryResponse; null:
 * logged out). A client group belongs to one user, so an answer for anyone but the connection's
 * own user (its connect URL's `userID`; absent = logged out) must not be served to it: the
 * connection is refused as Unauthorized, as 1.9's zero-cache does. An answer that does not say
 * (0.25 helpers, or 1.x's positional forms) is trusted as the connection's.
 *
 * The message names no one: which user the API server meant is not the client's business.
 */
export function answeredForAnotherUser(
  answered: string | null | undefined,
  auth: ApiServerAuth,
): boolean {
  if (answered === undefined) return false;
  return (answered ?? '') !== (auth.userID ?? '');
}

export const ANOTHER_USER_MESSAGE =
  "The API server answered for another user than this connection's: a client group belongs " +
  'to one user.';
