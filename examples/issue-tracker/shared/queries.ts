import {defineQueries, defineQuery} from '@rocicorp/zero';
import {zql, type Context} from './schema.js';

/**
 * The app's named queries. The client runs them optimistically against its local cache; zcache
 * asks the API server (`ZERO_QUERY_URL`) to turn each name and its args into the query it syncs,
 * so the server decides what a user may read.
 */
export const queries = defineQueries({
  /** Issues, newest change first; `open` null means all. */
  issueList: defineQuery(({args}: {args: {open: boolean | null}; ctx: Context}) => {
    let q = zql.issue.related('creator').related('labels').orderBy('modified', 'desc');
    if (args.open !== null) q = q.where('open', args.open);
    return q.orderBy('id', 'asc');
  }),
  issueDetail: defineQuery(({args}: {args: {id: string}; ctx: Context}) =>
    zql.issue
      .where('id', args.id)
      .related('creator')
      .related('labels')
      .related('comments', (c) => c.related('creator').orderBy('created', 'asc'))
      .one(),
  ),
  users: defineQuery(() => zql.user.orderBy('name', 'asc')),
  labels: defineQuery(() => zql.label.orderBy('name', 'asc')),
});
