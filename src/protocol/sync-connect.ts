/**
 * The connect request of the sync socket (fact sheet §1.1–§1.5): the URL path, the query
 * parameters, the `Sec-WebSocket-Protocol` header, and the protocol-version range.
 *
 * Every parse failure is a {@link ConnectRequestError}. Such failures happen before a socket is
 * handed to a sync worker, and the reference reports them by completing the upgrade and closing
 * with code {@link HANDOFF_FAILURE_CLOSE_CODE} and reason {@link handoffCloseReason} (no JSON
 * `error` message). A version outside the supported range is NOT a parse failure: the connection
 * answers it with a `VersionNotSupported` error message (§1.4).
 */
import {ErrorKind, ErrorOrigin, type BasicErrorBody} from './sync-errors.js';
import type {InitConnectionMessage} from './sync-up.js';

/**
 * The newest sync protocol version this server speaks (that of @rocicorp/zero 1.9). Downstream
 * formats are the same for every version but the inspector's per-query metrics (v51).
 */
export const PROTOCOL_VERSION = 51;
/** From this version on (the 1.x clients) a client wants a poke on each connection (§6.1 of the 1.x sheet). */
export const POKE_PER_CONNECTION_VERSION = 45;
/** The oldest client protocol version accepted. */
export const MIN_SERVER_SUPPORTED_SYNC_PROTOCOL = 30;

/** The WebSocket close code for connect requests that fail before the hand-off. */
export const HANDOFF_FAILURE_CLOSE_CODE = 1002;
/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** A connect request (path, query parameters or protocol header) could not be understood. */
export class ConnectRequestError extends Error {
  override readonly name = 'ConnectRequestError';
}

export function isSupportedProtocolVersion(version: number): boolean {
  return version >= MIN_SERVER_SUPPORTED_SYNC_PROTOCOL && version <= PROTOCOL_VERSION;
}

/** The reference's exact text, e.g. `server is at sync protocol v44 and does not support v29. …` */
export function versionNotSupportedMessage(version: number): string {
  const outdated = version > PROTOCOL_VERSION ? 'server' : 'client';
  return (
    `server is at sync protocol v${PROTOCOL_VERSION} and does not support v${version}. ` +
    `The ${outdated} must be updated to a newer release.`
  );
}

/** The body to send (then close) when {@link isSupportedProtocolVersion} is false. */
export function versionNotSupportedError(version: number): BasicErrorBody {
  return {
    kind: ErrorKind.VersionNotSupported,
    message: versionNotSupportedMessage(version),
    origin: ErrorOrigin.ZeroCache,
  };
}

/** `String(error)` cut to at most {@link MAX_CLOSE_REASON_BYTES} bytes on a character boundary. */
export function handoffCloseReason(error: unknown): string {
  const reason = String(error);
  let kept = '';
  let bytes = 0;
  for (const char of reason) {
    bytes += Buffer.byteLength(char, 'utf8');
    if (bytes > MAX_CLOSE_REASON_BYTES) {
      break;
    }
    kept += char;
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------
// Path: (/:base)/:worker/v:version/:action

export const CONNECT_WORKERS = ['sync', 'replication', 'mutate'] as const;
export type ConnectWorker = (typeof CONNECT_WORKERS)[number];

export type ConnectPath = {
  /** The one optional leading segment (lets apps serve zero-cache under a prefix). */
  readonly base: string | undefined;
  readonly worker: ConnectWorker;
  /** `Number(segment)`: any number, range-checked later (§1.4). */
  readonly version: number;
  /** Not checked (the client sends `connect`). */
  readonly action: string;
};

// Segments hold what the reference's url-pattern allows in a named segment: letters, digits,
// '-', '_', '~', ' ' and '%' (the path is not percent-decoded). No '/', '.', ':' etc.
const SEGMENT = '([A-Za-z0-9\\-_~ %]+)';
const CONNECT_PATH = new RegExp(`^(?:/${SEGMENT})?/${SEGMENT}/v${SEGMENT}/${SEGMENT}$`);

/**
 * Parses a URL's `pathname` (no query string). Accepts `/sync/v44/connect` and
 * `/zero/sync/v44/connect`; rejects deeper prefixes, unknown workers and non-numeric versions.
 */
export function parseConnectPath(pathname: string): ConnectPath {
  const match = CONNECT_PATH.exec(pathname);
  if (match === null) {
    throw new ConnectRequestError(
      `Invalid URL path ${JSON.stringify(pathname)}: expected ` +
        `[/{base}]/{sync|replication|mutate}/v{version}/{action}`,
    );
  }
  const [, base, worker = '', versionText = '', action = ''] = match;
  if (!isConnectWorker(worker)) {
    throw new ConnectRequestError(
      `Invalid URL path ${JSON.stringify(pathname)}: unknown worker ${JSON.stringify(worker)} ` +
        `(expected sync, replication or mutate)`,
    );
  }
  const version = Number(versionText);
  if (Number.isNaN(version)) {
    throw new ConnectRequestError(
      `Invalid URL path ${JSON.stringify(pathname)}: protocol version ` +
        `${JSON.stringify(versionText)} is not a number`,
    );
  }
  return {base, worker, version, action};
}

function isConnectWorker(worker: string): worker is ConnectWorker {
  return (CONNECT_WORKERS as readonly string[]).includes(worker);
}

// ---------------------------------------------------------------------------------------------
// Query parameters

export type ConnectParams = {
  readonly clientID: string;
  readonly clientGroupID: string;
  /** `ts`, parsed with `parseInt` (the client sends a float). Unused by the server. */
  readonly timestamp: number;
  /** `lmid`: the last mutation id the client has seen. Parsed, not checked. */
  readonly lmid: number;
  /** The client's cookie; `null` when absent or empty (a client without a snapshot). */
  readonly baseCookie: string | null;
  /** Echoed in `connected`; `''` when absent. */
  readonly wsid: string;
  /** `''` when absent. Checked against the JWT's `sub` when one is verified (§2.13). */
  readonly userID: string;
  /** v44+; `null` when absent (the CVR then uses `cg{clientGroupID}`). */
  readonly profileID: string | null;
  /** Legacy schema version; when present each data poke is range-checked (§2.12). */
  readonly schemaVersion: number | null;
  /** `debugPerf=true`. */
  readonly debugPerf: boolean;
};

/**
 * Reads the connect query parameters (§1.2). An empty value counts as absent. Unknown parameters
 * (e.g. a backoff error's `reconnectParams`) are ignored.
 */
export function parseConnectParams(searchParams: URLSearchParams): ConnectParams {
  const read = new ParamReader(searchParams);
  return {
    clientID: read.required('clientID'),
    clientGroupID: read.required('clientGroupID'),
    timestamp: read.integer('ts', true),
    lmid: read.integer('lmid', true),
    baseCookie: read.optional('baseCookie'),
    wsid: read.optional('wsid') ?? '',
    userID: read.optional('userID') ?? '',
    profileID: read.optional('profileID'),
    schemaVersion: read.integer('schemaVersion', false),
    debugPerf: read.optional('debugPerf') === 'true',
  };
}

class ParamReader {
  constructor(private readonly params: URLSearchParams) {}

  optional(name: string): string | null {
    const value = this.params.get(name);
    return value === '' ? null : value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === null) {
      throw new ConnectRequestError(`Invalid connect query: missing parameter ${name}`);
    }
    return value;
  }

  /** `parseInt` semantics (leading integer of the text), like the reference. */
  integer(name: string, required: true): number;
  integer(name: string, required: false): number | null;
  integer(name: string, required: boolean): number | null {
    const text = required ? this.required(name) : this.optional(name);
    if (text === null) {
      return null;
    }
    const value = parseInt(text);
    if (Number.isNaN(value)) {
      throw new ConnectRequestError(
        `Invalid connect query: parameter ${name} must be an integer, got ${JSON.stringify(text)}`,
      );
    }
    return value;
  }
}

// ---------------------------------------------------------------------------------------------
// Sec-WebSocket-Protocol: encodeURIComponent(base64(utf8(JSON.stringify(protocols))))

/** What the client puts in the header. Either field may be absent. */
export type SecProtocols = {
  /** An `initConnection` message, when it fits in the header. */
  readonly initConnectionMessage?: InitConnectionMessage | undefined;
  /** The app's opaque auth token (forwarded to the API server as a bearer token). */
  readonly authToken?: string | undefined;
};

/**
 * The decoded header. `initConnectionMessage` is left as raw JSON: the connection must process it
 * exactly like a socket message (after `connected`, through `parseUpstreamMessage`), so that a bad
 * one is answered with an `InvalidMessage` error as the reference does, not a failed handshake.
 */
export type DecodedSecProtocols = {
  readonly initConnectionMessage?: unknown;
  readonly authToken?: string | undefined;
};

/** Encodes the header value exactly as the 0.25.9 client does. */
export function encodeSecProtocols(protocols: SecProtocols): string {
  const {initConnectionMessage, authToken} = protocols;
  const json = JSON.stringify({initConnectionMessage, authToken});
  return encodeURIComponent(Buffer.from(json, 'utf8').toString('base64'));
}

/**
 * Decodes the header value: URI-decode → base64 → UTF-8 → JSON, then checks the shape: a JSON
 * object with no keys but `initConnectionMessage` and `authToken`, the latter a string.
 */
export function decodeSecProtocols(header: string | undefined): DecodedSecProtocols {
  if (header === undefined || header === '') {
    throw new ConnectRequestError('Missing Sec-WebSocket-Protocol header');
  }
  const json = decodeHeaderJSON(header);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConnectRequestError(
      'Invalid Sec-WebSocket-Protocol header: expected a JSON object ' +
        '{initConnectionMessage?, authToken?}',
    );
  }
  const unknownKeys = Object.keys(json).filter(
    (key) => key !== 'initConnectionMessage' && key !== 'authToken',
  );
  if (unknownKeys.length > 0) {
    throw new ConnectRequestError(
      `Invalid Sec-WebSocket-Protocol header: unknown key(s) ${unknownKeys.join(', ')}`,
    );
  }
  const {initConnectionMessage, authToken} = json as Record<string, unknown>;
  if (authToken !== undefined && typeof authToken !== 'string') {
    throw new ConnectRequestError(
      'Invalid Sec-WebSocket-Protocol header: authToken must be a string',
    );
  }
  return {initConnectionMessage, authToken};
}

function decodeHeaderJSON(header: string): unknown {
  const base64 = decodeStep('not URI-encoded', () => decodeURIComponent(header));
  const binary = decodeStep('not base64', () => atob(base64));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const text = decodeStep('not UTF-8', () => new TextDecoder('utf-8', {fatal: true}).decode(bytes));
  return decodeStep('not JSON', (): unknown => JSON.parse(text));
}

/** Runs one decoding step, turning its failure into a ConnectRequestError that names the step. */
function decodeStep<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConnectRequestError(`Invalid Sec-WebSocket-Protocol header: ${what} (${reason})`);
  }
}
