import type {RequestFailure} from '../protocol/sync-errors.js';
import {internalErrorMessage, newErrorId} from '../shared/error-id.js';
import type {Logger} from '../shared/log.js';

/**
 * One POST to the app's API server (fact sheet §7.2): `?schema={app}_{shard}&appID={app}` added to
 * the URL, JSON body, `X-Api-Key` when configured, the client's token as a bearer token, the
 * upgrade request's cookies when forwarding is on, its `Origin`, the headers the allow-lists let
 * through (1.x: ZERO_{MUTATE,QUERY}_ALLOWED_{CLIENT,REQUEST}_HEADERS; never one zcache sets
 * itself), and a W3C `traceparent` when the client sent one. Failures come back as the RequestFailure part
 * of a PushFailed / TransformFailed body, with a message that says what went wrong but not where:
 * the URL may carry a key in its query string or a user and password, and its host is none of the
 * client's business. The log gets the URL (without userinfo, query values blanked) and the cause.
 */
export interface ApiServerTarget {
  url: string;
  apiKey?: string | undefined;
  forwardCookies: boolean;
  appID: string;
  shardSchema: string;
  timeoutMs: number;
  /** Which of the client's requested headers this endpoint gets, and which of them may pass. */
  clientHeaders?: {of: 'push' | 'query'; allowed?: readonly string[] | undefined} | undefined;
  /** Attempts and back-off for 5xx and unreachable (default: 1.9's, see RETRY_ATTEMPTS). */
  retry?: {attempts: number; delayMs?: (attempt: number) => number} | undefined;
  /** Headers of the client's upgrade request that may pass. */
  allowedRequestHeaders?: readonly string[] | undefined;
  /** Where failures are logged with their URL and cause (the client's message has neither). */
  log?: Logger | undefined;
}

export interface ApiServerAuth {
  token?: string | undefined;
  cookie?: string | undefined;
  /** The verified token's payload, when tokens are verified (for permission rules, not sent). */
  authData?: unknown;
  /** The connect URL's `userID` (absent: logged out); not sent, checked against 1.x answers. */
  userID?: string | undefined;
  /** The upgrade request's headers (only allow-listed ones and Origin are sent). */
  requestHeaders?: Readonly<Record<string, string | readonly string[] | undefined>> | undefined;
  /** Headers the client asked to send with pushes / transforms (initConnection, v45). */
  pushHeaders?: Readonly<Record<string, string>> | undefined;
  queryHeaders?: Readonly<Record<string, string>> | undefined;
}

export type ApiServerResult =
  {ok: true; body: unknown} | {ok: false; message: string; failure: RequestFailure<never>};

const PREVIEW_CHARS = 512;

export async function callApiServer(
  target: ApiServerTarget,
  auth: ApiServerAuth,
  body: unknown,
  traceparent?: string,
): Promise<ApiServerResult> {
  const url = new URL(target.url);
  const logFailure = (what: string, cause?: unknown) =>
    target.log?.warn(`API server call to ${urlForLog(url)}: ${what}`, ...(cause ? [cause] : []));
  if (url.username || url.password) {
    // fetch would refuse it with a message quoting the whole URL, password included.
    logFailure('the URL carries a user or password, which fetch refuses');
    return internal('The API server URL must not carry a user or password.');
  }
  if (url.searchParams.has('schema') || url.searchParams.has('appID')) {
    logFailure('the URL carries "schema" or "appID"');
    return internal(
      'The API server URL must not carry "schema" or "appID" parameters; zcache adds them.',
    );
  }
  url.searchParams.set('schema', target.shardSchema);
  url.searchParams.set('appID', target.appID);
  const headers: Record<string, string> = {
    ...forwardedHeaders(target, auth),
    'Content-Type': 'application/json',
  };
  // A client's text: passed on only in W3C's form (anything else could break the request).
  if (traceparent && TRACEPARENT.test(traceparent)) headers.traceparent = traceparent;
  if (target.apiKey) headers['X-Api-Key'] = target.apiKey;
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (target.forwardCookies && auth.cookie) headers.Cookie = auth.cookie;
  const attempts = Math.max(target.retry?.attempts ?? RETRY_ATTEMPTS, 1);
  for (let attempt = 1; ; attempt++) {
    const {result, retryable} = await postOnce(target, url, headers, body, logFailure);
    if (!retryable || attempt >= attempts) return result;
    const delayMs = (target.retry?.delayMs ?? retryDelayMs)(attempt);
    logFailure(`attempt ${attempt} of ${attempts} failed; retrying in ${delayMs} ms`);
    await new Promise((r) => setTimeout(r, delayMs));
  }
}

/**
 * As 1.9's zero-cache: up to 4 attempts when the API server answers 5xx or cannot be reached, a
 * doubling back-off from 100 ms with up to 100 ms of jitter. A timeout is not retried (the server
 * may still be working on it); a retried push is safe, as the API server skips mutations it has
 * already applied.
 */
const RETRY_ATTEMPTS = 4;
function retryDelayMs(attempt: number): number {
  return 100 * 2 ** (attempt - 1) + Math.floor(Math.random() * 100);
}

/** One POST; `retryable` when a later attempt may succeed (5xx, unreachable). */
async function postOnce(
  target: ApiServerTarget,
  url: URL,
  headers: Record<string, string>,
  body: unknown,
  logFailure: (what: string, cause?: unknown) => void,
): Promise<{result: ApiServerResult; retryable: boolean}> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (e) {
    const err = e as Error;
    if (err.name === 'TimeoutError') {
      logFailure(`no answer within ${target.timeoutMs} ms`);
      const message = `The API server did not answer within ${target.timeoutMs} ms`;
      return {
        result: {ok: false, message, failure: {origin: 'zeroCache', reason: 'timeout'}},
        retryable: false,
      };
    }
    // fetch's own message is only "fetch failed"; its cause names the host and port.
    const id = newErrorId();
    logFailure(`fetch failed (error id ${id})`, err.cause ?? err);
    return {
      result: internal(internalErrorMessage('Fetch from API server failed', id)),
      retryable: true,
    };
  }
  const text = await res.text();
  if (!res.ok) {
    logFailure(`status ${res.status}`);
    const bodyPreview = text.length > PREVIEW_CHARS ? text.slice(0, PREVIEW_CHARS) + '...' : text;
    const message = `Fetch from API server returned non-OK status ${res.status}`;
    return {
      result: {
        ok: false,
        message,
        failure: {origin: 'zeroCache', reason: 'http', status: res.status, bodyPreview},
      },
      retryable: res.status >= 500,
    };
  }
  try {
    return {result: {ok: true, body: JSON.parse(text)}, retryable: false};
  } catch {
    logFailure('the answer is not JSON');
    const message = 'The API server answered with invalid JSON';
    return {
      result: {ok: false, message, failure: {origin: 'zeroCache', reason: 'parse'}},
      retryable: false,
    };
  }
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** W3C trace context: version-traceid-parentid-flags, lowercase hex. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Headers zcache sets itself or that describe the transport: never taken from a client. */
const OWN_HEADERS = new Set([
  'authorization',
  'connection',
  'content-length',
  'content-type',
  'cookie',
  'host',
  'traceparent',
  'transfer-encoding',
  'x-api-key',
]);

/** Origin, then the allow-listed request headers, then the allow-listed client headers. */
function forwardedHeaders(target: ApiServerTarget, auth: ApiServerAuth): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (
    name: string,
    value: string | readonly string[] | undefined,
    allowed: Set<string>,
  ) => {
    const lower = name.toLowerCase();
    if (value === undefined || OWN_HEADERS.has(lower) || !allowed.has(lower)) return;
    const text = typeof value === 'string' ? value : value.join(', ');
    // A client's text: one that fetch would refuse (or that could split the request) is dropped.
    if (HEADER_NAME.test(name) && !/[\r\n\0]/.test(text)) out[lower] = text;
  };
  const request = auth.requestHeaders ?? {};
  put('origin', request.origin, new Set(['origin']));
  const allowedRequest = lowerSet(target.allowedRequestHeaders);
  for (const [name, value] of Object.entries(request)) put(name, value, allowedRequest);
  const client = target.clientHeaders;
  if (client) {
    const asked = client.of === 'push' ? auth.pushHeaders : auth.queryHeaders;
    const allowedClient = lowerSet(client.allowed);
    for (const [name, value] of Object.entries(asked ?? {})) put(name, value, allowedClient);
  }
  return out;
}

function lowerSet(names: readonly string[] | undefined): Set<string> {
  return new Set((names ?? []).map((n) => n.trim().toLowerCase()));
}

/** The URL without its user and password, and with every query value blanked but ours. */
function urlForLog(url: URL): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  for (const name of new Set(shown.searchParams.keys())) {
    if (name !== 'schema' && name !== 'appID') shown.searchParams.set(name, 'redacted');
  }
  return shown.toString();
}

function internal(message: string): ApiServerResult {
  return {ok: false, message, failure: {origin: 'zeroCache', reason: 'internal'}};
}
