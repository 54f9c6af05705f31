import type {InspectDownBody, InspectQueryRow} from '../protocol/sync-down.js';
import type {InspectUpBody} from '../protocol/sync-up.js';
import {passwordMatches} from '../shared/password-match.js';
import type {QuerySet} from './query-set.js';
import type {RowSet} from './row-set.js';

/**
 * Inspector requests over the sync socket (fact sheet §9.2). With ZERO_ADMIN_PASSWORD set, every
 * op but `authenticate` answers `authenticated: false` until the connection has authenticated
 * with it — in development mode too; only with no password configured does development mode let
 * everyone in (and production mode no one).
 */
export interface InspectorOptions {
  adminPassword: string | undefined;
  development: boolean;
  serverVersion: string;
}

/**
 * One connection's inspector login. It is bound to the socket (not to the client group, nor to
 * the process): it ends when the socket closes, and a failed `authenticate` ends it at once, so a
 * login cannot outlive the tab that made it or survive a later wrong guess.
 */
export class InspectorLogin {
  authenticated = false;
}

export function answerInspect(
  req: InspectUpBody,
  login: InspectorLogin,
  opts: InspectorOptions,
  state: {queries: QuerySet; rows: RowSet} | undefined,
): InspectDownBody {
  const openToAll = opts.development && !opts.adminPassword;
  if (req.op === 'authenticate') {
    login.authenticated =
      openToAll || (!!opts.adminPassword && passwordMatches(req.value, opts.adminPassword));
    return {id: req.id, op: 'authenticated', value: login.authenticated};
  }
  if (!openToAll && !login.authenticated) {
    return {id: req.id, op: 'authenticated', value: false};
  }
  switch (req.op) {
    case 'version':
      return {id: req.id, op: 'version', value: opts.serverVersion};
    case 'queries':
      return {id: req.id, op: 'queries', value: state ? queryRows(state, req.clientID) : []};
    default:
      return {
        id: req.id,
        op: 'error',
        value: `inspector op "${req.op}" is not supported by zcache yet`,
      };
  }
}

function queryRows(
  state: {queries: QuerySet; rows: RowSet},
  clientID: string | undefined,
): InspectQueryRow[] {
  const counts = new Map<string, number>();
  for (const r of state.rows.records.values()) {
    for (const q of Object.keys(r.refCounts ?? {})) counts.set(q, (counts.get(q) ?? 0) + 1);
  }
  const out: InspectQueryRow[] = [];
  for (const [cid, desires] of state.queries.desires) {
    if (clientID && cid !== clientID) continue;
    for (const d of desires.values()) {
      const q = state.queries.queries.get(d.queryHash);
      if (!q) continue;
      out.push({
        clientID: cid,
        queryID: q.queryHash,
        ast: q.ast,
        name: q.name,
        args: (q.args as never) ?? null,
        got: q.patchVersion !== null && !q.deleted,
        deleted: d.deleted,
        ttl: d.ttlMs,
        inactivatedAt: d.inactivatedAtMs,
        rowCount: counts.get(q.queryHash) ?? 0,
      });
    }
  }
  return out;
}
