import {ProtocolError} from '../protocol/sync-errors.js';
import type {ApiServerAuth} from '../custom/api-server-call.js';

/**
 * Which verified token a client group uses (fact sheet §2.13): the first token wins; a later one
 * must name the same `sub`; of two tokens the one with the larger `iat` is kept (the newer when
 * neither has one). A token without `iat` cannot replace one with it, and a connection without a
 * token cannot join a group that has one: both are Unauthorized. Unverified (opaque) tokens are
 * not compared: the newest is used.
 */
interface Claims {
  sub?: unknown;
  iat?: unknown;
}

export function pickGroupToken(current: ApiServerAuth, next: ApiServerAuth): ApiServerAuth {
  const cur = current.authData as Claims | undefined;
  const nxt = next.authData as Claims | undefined;
  if (!cur) return next.token || !current.token ? next : current;
  if (!nxt)
    throw ProtocolError.of('Unauthorized', 'No token provided for a client group that has one.');
  // The message names neither subject: the client group's user is none of this client's business.
  if (nxt.sub !== cur.sub)
    throw ProtocolError.of('Unauthorized', "The token's subject differs from the client group's.");
  if (typeof cur.iat === 'number') {
    if (typeof nxt.iat !== 'number')
      throw ProtocolError.of('Unauthorized', 'The new token has no iat but the current one has.');
    return nxt.iat >= cur.iat ? next : current;
  }
  return next;
}
