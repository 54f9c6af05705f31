import {parseAST, type AST} from '../protocol/ast.js';
import type {ErroredQuery} from '../protocol/sync-down.js';
import {ProtocolError, type TransformFailedBody} from '../protocol/sync-errors.js';
import {ANOTHER_USER_MESSAGE, answeredForAnotherUser} from './answered-user.js';
import {callApiServer, type ApiServerAuth, type ApiServerTarget} from './api-server-call.js';
import {TransformCache, type TransformCacheKey} from './transform-cache.js';

/**
 * Custom queries (fact sheet §7.3): their names and args go to ZERO_QUERY_URL as
 * `['transform', [{id, name, args}]]`; the API server answers with a server-named AST per query or
 * a per-query error. Successful transforms are reused for 5 s, only for the same user (see
 * TransformCache). A failure of the whole request is thrown as a TransformFailed ProtocolError
 * naming every query of it.
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

export class QueryTransformer {
  readonly #target: ApiServerTarget;
  readonly #cache: TransformCache;

  constructor(target: ApiServerTarget, cache: TransformCache = new TransformCache()) {
    this.#target = target;
    this.#cache = cache;
  }

  /** `traceparent`: the W3C trace context of the client message that caused the transform. */
  async transform(
    queries: readonly CustomQuery[],
    auth: ApiServerAuth,
    traceparent?: string,
  ): Promise<TransformResult> {
    const result: TransformResult = {asts: new Map(), errors: []};
    const cacheKey = (queryID: string) => this.#cacheKey(auth, queryID);
    const todo = queries.filter((q) => {
      const hit = this.#cache.get(cacheKey(q.id));
      if (hit) result.asts.set(q.id, hit);
      return !hit;
    });
    if (todo.length === 0) return result;
    const res = await callApiServer(
      this.#target,
      auth,
      ['transform', todo.map(({id, name, args}) => ({id, name, args}))],
      traceparent,
    );
    if (!res.ok) throw failed(res.message, res.failure, todo);
    const [tag, body] = transformAnswer(res.body);
    if (tag === 'transformFailed') {
      const b = body as {message?: string; reason?: string; details?: unknown};
      throw failed(
        b.message ?? 'The API server failed to transform the queries',
        {origin: 'server', reason: (b.reason ?? 'internal') as 'internal'},
        todo,
      );
    }
    if (answeredForAnotherUser(answeredUser(res.body), auth))
      throw ProtocolError.of('Unauthorized', ANOTHER_USER_MESSAGE);
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
        this.#cache.set(cacheKey(String(entry.id)), ast);
      } else {
        result.errors.push(entry as unknown as ErroredQuery);
      }
    }
    return result;
  }

  /**
   * 1.x's check of a connection's credentials: an empty transform request. Returns the error to
   * close the connection with when the API server refuses them (401, 403) or answers for another
   * user; undefined otherwise — an API server that is down or failing does not lock clients out
   * (their custom queries fail on their own).
   */
  async validate(auth: ApiServerAuth): Promise<ProtocolError | undefined> {
    const res = await callApiServer(this.#target, auth, ['transform', []]);
    if (!res.ok) {
      const {failure} = res;
      const refused =
        failure.origin === 'zeroCache' &&
        failure.reason === 'http' &&
        (failure.status === 401 || failure.status === 403);
      return refused ? failed(res.message, failure, []) : undefined;
    }
    if (answeredForAnotherUser(answeredUser(res.body), auth))
      return ProtocolError.of('Unauthorized', ANOTHER_USER_MESSAGE);
    return undefined;
  }

  /** Everything the API server's answer may depend on: who asks, where, and for what. */
  #cacheKey(auth: ApiServerAuth, queryID: string): TransformCacheKey {
    const sub = (auth.authData as {sub?: unknown} | undefined)?.sub;
    return {
      url: this.#target.url,
      token: auth.token,
      cookie: this.#target.forwardCookies ? auth.cookie : undefined,
      userID: sub === undefined ? undefined : String(sub),
      queryID,
    };
  }
}

/**
 * The API server's answer as the 0.25 helpers phrase it (`['transformed', results]` or
 * `['transformFailed', body]`); 1.x helpers answer `{kind: 'QueryResponse', queries, userID?}` or
 * a bare TransformFailed body, which mean the same.
 */
function transformAnswer(answer: unknown): [unknown, unknown] {
  if (Array.isArray(answer)) return answer as [unknown, unknown];
  const kind = (answer as {kind?: unknown} | null)?.kind;
  if (kind === 'QueryResponse') return ['transformed', (answer as {queries?: unknown}).queries];
  if (kind === 'TransformFailed') return ['transformFailed', answer];
  return [undefined, undefined];
}

/** The `userID` of a 1.x QueryResponse (undefined when the answer does not say). */
function answeredUser(answer: unknown): string | null | undefined {
  if (Array.isArray(answer) || typeof answer !== 'object' || answer === null) return undefined;
  const {kind, userID} = answer as {kind?: unknown; userID?: unknown};
  if (kind !== 'QueryResponse') return undefined;
  return typeof userID === 'string' || userID === null ? userID : undefined;
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
