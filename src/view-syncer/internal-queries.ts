import type {AST} from '../protocol/ast.js';

/**
 * The two queries every client group runs for mutation bookkeeping (fact sheet §2.8): its rows of
 * `{app}_{shard}.clients` (last mutation ids) and `.mutations` (custom mutation results). They are
 * not permission-filtered, never expire, and are not reported as got or desired queries.
 */
export const LMIDS_QUERY = 'lmids';
export const MUTATION_RESULTS_QUERY = 'mutationResults';

export function internalQueries(shardSchema: string, clientGroupID: string): Map<string, AST> {
  const inGroup = {
    type: 'simple',
    op: '=',
    left: {type: 'column', name: 'clientGroupID'},
    right: {type: 'literal', value: clientGroupID},
  } as const;
  return new Map<string, AST>([
    [
      LMIDS_QUERY,
      {
        schema: '',
        table: `${shardSchema}.clients`,
        where: inGroup,
        orderBy: [
          ['clientGroupID', 'asc'],
          ['clientID', 'asc'],
        ],
      },
    ],
    [
      MUTATION_RESULTS_QUERY,
      {
        schema: '',
        table: `${shardSchema}.mutations`,
        where: inGroup,
        orderBy: [
          ['clientGroupID', 'asc'],
          ['clientID', 'asc'],
          ['mutationID', 'asc'],
        ],
      },
    ],
  ]);
}
