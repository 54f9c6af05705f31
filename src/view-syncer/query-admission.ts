import type {QueryRecord} from './cvr-types.js';

/**
 * Which of a group's live queries start running at a step: those not yet running, up to the
 * group's limit on running queries (internal queries do not count). Queries past the limit are
 * refused, newest last: the caller tombstones them and tells the clients why, so a client that
 * keeps adding queries cannot grow its group's memory without bound.
 */
export interface Admission {
  start: QueryRecord[];
  refused: QueryRecord[];
}

export function admitQueries(
  live: readonly QueryRecord[],
  running: ReadonlySet<string>,
  limit: number,
): Admission {
  let count = live.filter((q) => q.kind !== 'internal' && running.has(q.queryHash)).length;
  const start: QueryRecord[] = [];
  const refused: QueryRecord[] = [];
  for (const q of live) {
    if (running.has(q.queryHash)) continue;
    if (q.kind === 'internal') start.push(q);
    else if (count < limit) {
      start.push(q);
      count++;
    } else refused.push(q);
  }
  return {start, refused};
}

export function tooManyQueriesMessage(limit: number): string {
  return (
    `The client group already runs ${limit} queries, the most it may ` +
    `(ZCACHE_MAX_QUERIES_PER_CLIENT_GROUP); remove some before adding more.`
  );
}
