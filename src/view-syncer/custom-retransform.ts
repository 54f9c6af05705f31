import type {ApiServerAuth} from '../custom/api-server-call.js';
import type {CustomQuery, QueryTransformer} from '../custom/query-transformer.js';
import type {AST} from '../protocol/ast.js';

/**
 * Which of a group's running custom queries to rebuild after transforming them all again (as 1.x
 * does on `updateAuth` and every ZERO_AUTH_RETRANSFORM_INTERVAL_SECONDS): those the API server now
 * answers with another AST, and those it now refuses (rebuilt, they are transformed once more and
 * reported by the usual path). The others keep their pipelines, so a re-transform that changes
 * nothing costs one API-server call, not a rehydration. Throws what the transformer throws.
 */
export async function customQueriesToRebuild(
  running: readonly (CustomQuery & {ast: AST | undefined})[],
  transformer: QueryTransformer,
  auth: ApiServerAuth,
): Promise<string[]> {
  if (running.length === 0) return [];
  const {asts, errors} = await transformer.transform(running, auth);
  const changed = running.filter((q) => {
    const now = asts.get(q.id);
    return now !== undefined && JSON.stringify(now) !== JSON.stringify(q.ast);
  });
  return [...changed.map((q) => q.id), ...errors.map((e) => e.id)];
}
