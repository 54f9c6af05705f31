import type {RequestFailure} from '../protocol/sync-errors.js';

/**
 * One POST to the app's API server (fact sheet §7.2): `?schema={app}_{shard}&appID={app}` added to
 * the URL, JSON body, `X-Api-Key` when configured, the client's token as a bearer token, and the
 * upgrade request's cookies when forwarding is on. Failures come back as the RequestFailure part
 * of a PushFailed / TransformFailed body, with a message that says what went wrong where.
 */
export interface ApiServerTarget {
  url: string;
  apiKey?: string | undefined;
  forwardCookies: boolean;
  appID: string;
  shardSchema: string;
  timeoutMs: number;
}

export interface ApiServerAuth {
  token?: string | undefined;
  cookie?: string | undefined;
  /** The verified token's payload, when tokens are verified (for permission rules, not sent). */
  authData?: unknown;
}

export type ApiServerResult =
  {ok: true; body: unknown} | {ok: false; message: string; failure: RequestFailure<never>};

const PREVIEW_CHARS = 512;

export async function callApiServer(
  target: ApiServerTarget,
  auth: ApiServerAuth,
  body: unknown,
): Promise<ApiServerResult> {
  const url = new URL(target.url);
  if (url.searchParams.has('schema') || url.searchParams.has('appID')) {
    return internal(
      `The URL ${target.url} must not carry "schema" or "appID" parameters; zcache adds them.`,
    );
  }
  url.searchParams.set('schema', target.shardSchema);
  url.searchParams.set('appID', target.appID);
  const headers: Record<string, string> = {'Content-Type': 'application/json'};
  if (target.apiKey) headers['X-Api-Key'] = target.apiKey;
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (target.forwardCookies && auth.cookie) headers.Cookie = auth.cookie;
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
      return {
        ok: false,
        message: `API server ${target.url} did not answer within ${target.timeoutMs} ms`,
        failure: {origin: 'zeroCache', reason: 'timeout'},
      };
    }
    return internal(`Fetch from API server ${target.url} failed: ${err.message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    const bodyPreview = text.length > PREVIEW_CHARS ? text.slice(0, PREVIEW_CHARS) + '...' : text;
    return {
      ok: false,
      message: `Fetch from API server returned non-OK status ${res.status}`,
      failure: {origin: 'zeroCache', reason: 'http', status: res.status, bodyPreview},
    };
  }
  try {
    return {ok: true, body: JSON.parse(text)};
  } catch {
    return {
      ok: false,
      message: `API server ${target.url} answered with invalid JSON`,
      failure: {origin: 'zeroCache', reason: 'parse'},
    };
  }
}

function internal(message: string): ApiServerResult {
  return {ok: false, message, failure: {origin: 'zeroCache', reason: 'internal'}};
}
