/**
 * Error bodies of the sync socket (fact sheet §1.9): the `kind` values, the four body shapes
 * (basic, backoff, PushFailed, TransformFailed), and {@link ProtocolError}, which any handler may
 * throw to make the connection send `['error', body]` (and then close, except for the transient
 * kinds MutationFailed / MutationRateLimited).
 *
 * The client parses downstream in passthrough mode, so these types describe what we SEND; they are
 * not used to parse untrusted input.
 */
import type {JSONValue} from './ast.js';
import type {MutationID} from './sync-up-push.js';

/** Every `kind` an error body may carry (the values are the wire strings). */
export const ErrorKind = {
  AuthInvalidated: 'AuthInvalidated',
  ClientNotFound: 'ClientNotFound',
  InvalidConnectionRequest: 'InvalidConnectionRequest',
  InvalidConnectionRequestBaseCookie: 'InvalidConnectionRequestBaseCookie',
  InvalidConnectionRequestLastMutationID: 'InvalidConnectionRequestLastMutationID',
  InvalidConnectionRequestClientDeleted: 'InvalidConnectionRequestClientDeleted',
  InvalidMessage: 'InvalidMessage',
  InvalidPush: 'InvalidPush',
  PushFailed: 'PushFailed',
  MutationFailed: 'MutationFailed',
  MutationRateLimited: 'MutationRateLimited',
  Rebalance: 'Rebalance',
  Rehome: 'Rehome',
  TransformFailed: 'TransformFailed',
  Unauthorized: 'Unauthorized',
  VersionNotSupported: 'VersionNotSupported',
  SchemaVersionNotSupported: 'SchemaVersionNotSupported',
  ServerOverloaded: 'ServerOverloaded',
  Internal: 'Internal',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Kinds whose body is `{kind, message, origin?}`. */
export const BASIC_ERROR_KINDS = [
  ErrorKind.AuthInvalidated,
  ErrorKind.ClientNotFound,
  ErrorKind.InvalidConnectionRequest,
  ErrorKind.InvalidConnectionRequestBaseCookie,
  ErrorKind.InvalidConnectionRequestLastMutationID,
  ErrorKind.InvalidConnectionRequestClientDeleted,
  ErrorKind.InvalidMessage,
  ErrorKind.InvalidPush,
  ErrorKind.MutationRateLimited,
  ErrorKind.MutationFailed,
  ErrorKind.Unauthorized,
  ErrorKind.VersionNotSupported,
  ErrorKind.SchemaVersionNotSupported,
  ErrorKind.Internal,
] as const;
export type BasicErrorKind = (typeof BASIC_ERROR_KINDS)[number];

/** Kinds after which the client reconnects with backoff (body may carry backoff hints). */
export const BACKOFF_ERROR_KINDS = [
  ErrorKind.Rebalance,
  ErrorKind.Rehome,
  ErrorKind.ServerOverloaded,
] as const;
export type BackoffErrorKind = (typeof BACKOFF_ERROR_KINDS)[number];

/** Kinds the reference sends WITHOUT closing the socket (§1.9 "transient"). */
export const TRANSIENT_ERROR_KINDS: readonly ErrorKind[] = [
  ErrorKind.MutationFailed,
  ErrorKind.MutationRateLimited,
];

/** Who produced an error. `client` exists in the reference's enum but is never on the wire. */
export const ErrorOrigin = {Client: 'client', Server: 'server', ZeroCache: 'zeroCache'} as const;
export type ErrorOrigin = (typeof ErrorOrigin)[keyof typeof ErrorOrigin];

/** Why a push or transform request failed as a whole. */
export const ErrorReason = {
  Database: 'database',
  Parse: 'parse',
  OutOfOrderMutation: 'oooMutation',
  UnsupportedPushVersion: 'unsupportedPushVersion',
  Internal: 'internal',
  HTTP: 'http',
  Timeout: 'timeout',
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

export type BasicErrorBody = {
  readonly kind: BasicErrorKind;
  readonly message: string;
  readonly origin?: 'server' | 'zeroCache' | undefined;
};

/**
 * The client retries after `minBackoffMs..maxBackoffMs`; `reconnectParams` are appended to the
 * next connect URL only (names must not clash with the client's own parameters).
 */
export type BackoffErrorBody = {
  readonly kind: BackoffErrorKind;
  readonly message: string;
  readonly minBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
  readonly reconnectParams?: Readonly<Record<string, string>> | undefined;
  readonly origin?: 'zeroCache' | undefined;
};

/**
 * Where a whole push / transform request failed: reported by the API server (`server`), or by
 * zero-cache itself while calling it (`zeroCache`: an HTTP status, a timeout, an unparsable
 * response or an internal error).
 */
export type RequestFailure<ServerReason extends ErrorReason> =
  | {readonly origin: 'server'; readonly reason: ServerReason}
  | {
      readonly origin: 'zeroCache';
      readonly reason: 'http';
      readonly status: number;
      readonly bodyPreview?: string | undefined;
    }
  | {readonly origin: 'zeroCache'; readonly reason: 'timeout' | 'parse' | 'internal'};

export type PushFailedServerReason =
  'database' | 'parse' | 'oooMutation' | 'unsupportedPushVersion' | 'internal';
export type TransformFailedServerReason = 'database' | 'parse' | 'internal';

/** A custom-mutator push failed; sent to each client owning one of `mutationIDs` (§7.4). */
export type PushFailedBody = {
  readonly kind: 'PushFailed';
  readonly message: string;
  readonly mutationIDs: readonly MutationID[];
  readonly details?: JSONValue | undefined;
} & RequestFailure<PushFailedServerReason>;

/** A whole custom-query transform request failed (§7.3). */
export type TransformFailedBody = {
  readonly kind: 'TransformFailed';
  readonly message: string;
  readonly queryIDs: readonly string[];
  readonly details?: JSONValue | undefined;
} & RequestFailure<TransformFailedServerReason>;

export type ErrorBody = BasicErrorBody | BackoffErrorBody | PushFailedBody | TransformFailedBody;

/** The downstream message that carries an error body. */
export type ErrorMessage = ['error', ErrorBody];

/** Optional fields of a basic or backoff body, by kind. */
export type ErrorBodyExtra<K extends BasicErrorKind | BackoffErrorKind> = K extends BackoffErrorKind
  ? Omit<BackoffErrorBody, 'kind' | 'message'>
  : Omit<BasicErrorBody, 'kind' | 'message'>;

export function isBackoffErrorKind(kind: ErrorKind): kind is BackoffErrorKind {
  return (BACKOFF_ERROR_KINDS as readonly ErrorKind[]).includes(kind);
}

/**
 * Builds a basic or backoff body. `origin` defaults to `zeroCache` (zcache's own errors); `extra`
 * may override it (`origin: undefined` leaves it out of the JSON) and add the optional fields.
 */
export function errorBody<K extends BasicErrorKind | BackoffErrorKind>(
  kind: K,
  message: string,
  extra?: ErrorBodyExtra<K>,
): BasicErrorBody | BackoffErrorBody {
  return {kind, message, origin: ErrorOrigin.ZeroCache, ...extra} as
    BasicErrorBody | BackoffErrorBody;
}

/**
 * An error that maps to one `['error', body]` message. Handlers throw it; the connection catches
 * it, sends {@link toMessage} and closes the socket (unless the kind is transient). Any other
 * thrown value becomes an `Internal` error.
 */
export class ProtocolError<B extends ErrorBody = ErrorBody> extends Error {
  override readonly name: string = 'ProtocolError';

  constructor(
    readonly body: B,
    options?: ErrorOptions,
  ) {
    super(body.message, options);
  }

  /** A basic or backoff error with `origin: 'zeroCache'` unless `extra` says otherwise. */
  static of<K extends BasicErrorKind | BackoffErrorKind>(
    kind: K,
    message: string,
    extra?: ErrorBodyExtra<K>,
  ): ProtocolError {
    return new ProtocolError(errorBody(kind, message, extra));
  }

  get kind(): B['kind'] {
    return this.body.kind;
  }

  /** Whether the socket stays open after this error is sent (§1.9). */
  get isTransient(): boolean {
    return TRANSIENT_ERROR_KINDS.includes(this.body.kind);
  }

  toMessage(): ErrorMessage {
    return ['error', this.body];
  }
}
