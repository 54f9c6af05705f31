import {parseAST, type AST} from '../protocol/ast.js';
import type {ErroredQuery} from '../protocol/sync-down.js';
import {ProtocolError, type TransformFailedBody} from '../protocol/sync-errors.js';
import {callApiServer, type ApiServerAuth, type ApiServerTarget} from './api-server-call.js';

/**
 * Custom queries (fact sheet §7.3): their names and args go to ZERO_QUERY_URL as
 * `['transform', [{id, name, args}]]`; the API server answers with a server-named AST per query or
 * a per-query error. Successful transforms are cached for 5 s per (token, query id). A failure of
 * the whole request is thrown as a TransformFailed ProtocolError naming every query of it.
 */
export interface CustomQuery {
  id: string;
  name: string;
  args: readonly unknown[];
}

export interface TransformResult {
  asts: Map<string, AST>;
  errors: ErroredQuery[];
}

const CACHE_MS = 5000;

export class QueryTransformer {
  readonly #target: ApiServerTarget;
  readonly #cache = new Map<string, {ast: AST; at: number}>();
  readonly #now: () => number;

  constructor(target: ApiServerTarget, now: () => number = Date.now) {
    this.#target = target;
    this.#now = now;
  }

  async transform(queries: readonly CustomQuery[], auth: ApiServerAuth): Promise<TransformResult> {
    const result: TransformResult = {asts: new Map(), errors: []};
    const todo = queries.filter((q) => {
      const hit = this.#cache.get(`${auth.token ?? ''}\u0000${q.id}`);
      if (hit && this.#now() - hit.at < CACHE_MS) result.asts.set(q.id, hit.ast);
      return !result.asts.has(q.id);
    });
    if (todo.length === 0) return result;
    const res = await callApiServer(this.#target, auth, [
      'transform',
      todo.map(({id, name, args}) => ({id, name, args})),
    ]);
    if (!res.ok) throw failed(res.message, res.failure, todo);
    const [tag, body] = (Array.isArray(res.body) ? res.body : []) as [unknown, unknown];
    if (tag === 'transformFailed') {
      const b = body as {message?: string; reason?: string; details?: unknown};
      throw failed(
        b.message ?? 'The API server failed to transform the queries',
        {origin: 'server', reason: (b.reason ?? 'internal') as 'internal'},
        todo,
      );
    }
    if (tag !== 'transformed' || !Array.isArray(body)) {
      throw failed(
        'The API server answered the transform request with an unexpected shape',
        {origin: 'zeroCache', reason: 'parse'},
        todo,
      );
    }
    for (const entry of body as Record<string, unknown>[]) {
      if ('ast' in entry) {
        const ast = parseAST(entry.ast, `transformed[${String(entry.id)}].ast`);
        result.asts.set(String(entry.id), ast);
        this.#cache.set(`${auth.token ?? ''}\u0000${String(entry.id)}`, {ast, at: this.#now()});
      } else {
        result.errors.push(entry as unknown as ErroredQuery);
      }
    }
    return result;
  }
}

function failed(message: string, failure: object, queries: readonly CustomQuery[]): ProtocolError {
  const body = {
    kind: 'TransformFailed',
    message,
    queryIDs: queries.map((q) => q.id),
    ...failure,
  } as unknown as TransformFailedBody;
  return new ProtocolError(body);
}
