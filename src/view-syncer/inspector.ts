import type {InspectDownBody, InspectQueryRow} from '../protocol/sync-down.js';
import type {InspectUpBody} from '../protocol/sync-up.js';
import type {QuerySet} from './query-set.js';
import type {RowSet} from './row-set.js';

/**
 * Inspector requests over the sync socket (fact sheet §9.2). Every op but `authenticate` answers
 * `authenticated: false` until the group has authenticated with ZERO_ADMIN_PASSWORD (always
 * authenticated in development mode). Authentication lasts for the worker process.
 */
export interface InspectorOptions {
  adminPassword: string | undefined;
  development: boolean;
  serverVersion: string;
}

const authenticatedGroups = new Set<string>();

export function answerInspect(
  req: InspectUpBody,
  clientGroupID: string,
  opts: InspectorOptions,
  state: {queries: QuerySet; rows: RowSet} | undefined,
): InspectDownBody {
  if (req.op === 'authenticate') {
    const ok = opts.development || (!!opts.adminPassword && req.value === opts.adminPassword);
    if (ok) authenticatedGroups.add(clientGroupID);
    return {id: req.id, op: 'authenticated', value: ok};
  }
  if (!opts.development && !authenticatedGroups.has(clientGroupID)) {
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
