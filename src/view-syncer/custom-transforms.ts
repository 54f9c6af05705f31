import type {ApiServerAuth} from '../custom/api-server-call.js';
import type {CustomQuery, QueryTransformer, TransformResult} from '../custom/query-transformer.js';
import type {AST} from '../protocol/ast.js';
import type {Logger} from '../shared/log.js';

/** A running custom query and the AST its pipeline was built from. */
export type RunningCustomQuery = CustomQuery & {ast: AST | undefined};

/**
 * A client group's calls to transform its custom queries (ZERO_QUERY_URL): new ones, with the
 * trace context of the client message that asked for them, and the running ones again after
 * `updateAuth` and every ZERO_AUTH_RETRANSFORM_INTERVAL_SECONDS, as 1.x does. It only decides
 * and calls; the view-syncer adds and drops the pipelines.
 */
export class CustomTransforms {
  readonly #transformer: QueryTransformer | undefined;
  readonly #log: Logger;
  /** The trace context of the client message the group's running step serves, if it sent one. */
  traceparent: string | undefined;
  /**
   * Whether the next step transforms the running queries again: after updateAuth (`now`: a
   * failure fails the step), or periodically (`quietly`: a failure is logged and the queries
   * keep running as they were, as 1.x postpones its maintenance).
   */
  #again: 'no' | 'now' | 'quietly' = 'no';

  constructor(transformer: QueryTransformer | undefined, log: Logger) {
    this.#transformer = transformer;
    this.#log = log;
  }

  get configured(): boolean {
    return this.#transformer !== undefined;
  }

  transformAgain(mode: 'now' | 'quietly'): void {
    if (this.#again !== 'now') this.#again = mode;
  }

  /** Without ZERO_QUERY_URL every custom query fails, with a message that says so. */
  async transform(queries: readonly CustomQuery[], auth: ApiServerAuth): Promise<TransformResult> {
    if (this.#transformer) return this.#transformer.transform(queries, auth, this.traceparent);
    const message = 'No ZERO_QUERY_URL is configured: custom queries cannot run.';
    return {
      asts: new Map(),
      errors: queries.map((q) => ({error: 'app', id: q.id, name: q.name, message})),
    };
  }

  /**
   * When a transform again was asked for: which running queries to rebuild — those the API server
   * now answers with another AST, and those it now refuses (rebuilt, they are transformed once
   * more and reported by the usual path). The others keep their pipelines, so a re-transform that
   * changes nothing costs one API-server call, not a rehydration.
   */
  async toRebuild(running: readonly RunningCustomQuery[], auth: ApiServerAuth): Promise<string[]> {
    const mode = this.#again;
    this.#again = 'no';
    if (mode === 'no' || running.length === 0) return [];
    try {
      const {asts, errors} = await this.transform(running, auth);
      const changed = running.filter((q) => {
        const now = asts.get(q.id);
        return now !== undefined && JSON.stringify(now) !== JSON.stringify(q.ast);
      });
      return [...changed.map((q) => q.id), ...errors.map((e) => e.id)];
    } catch (e) {
      if (mode === 'now') throw e;
      this.#log.warn(
        `periodic re-transform of custom queries failed, tried again later: ${String(e)}`,
      );
      return [];
    }
  }
}
