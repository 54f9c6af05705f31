/**
 * Every message zcache sends on the sync socket (fact sheet §1.8), as TS types plus a few
 * constructors. The client parses downstream in passthrough mode (extra keys tolerated), so these
 * are not parsed here; they describe what we must produce.
 *
 * Poke rules the types cannot say (§1.8, §2.6): the parts of one poke are never interleaved with
 * another poke; `pokeStart.baseCookie` must equal the client's current cookie exactly; the server
 * only emits row `put` (full row) / `del` (primary-key record) and query `put` / `del` without `ttl`.
 */
import type {JSONRow, JSONValue} from './sync-json.js';
import {
  errorBody,
  type BackoffErrorKind,
  type BasicErrorKind,
  type ErrorBodyExtra,
  type ErrorMessage,
} from './sync-errors.js';
import type {MutationID, PrimaryKeyValueRecord} from './sync-up-push.js';
import type {DeleteClientsBody} from './sync-up-queries.js';
import type {InspectDownBody} from './sync-down-inspect.js';

export type * from './sync-down-inspect.js';
export type {ErrorMessage, JSONRow, MutationID};

export type ConnectedBody = {
  /** The `wsid` query parameter, echoed. */
  readonly wsid: string;
  /** `Date.now()` when the connection was accepted. */
  readonly timestamp?: number | undefined;
};

/** The range of `{app}.schemaVersions`; set on every poke that carries rows (§2.12). */
export type SchemaVersions = {
  readonly minSupportedVersion: number;
  readonly maxSupportedVersion: number;
};

export type PokeStartBody = {
  readonly pokeID: string;
  /** The cookie this poke updates FROM: the client's current cookie (`null` for a new client). */
  readonly baseCookie: string | null;
  readonly schemaVersions?: SchemaVersions | undefined;
  readonly timestamp?: number | undefined;
};

/** A change to a query set: the group's "got" queries, or one client's desired queries. */
export type QueryOp =
  | {readonly op: 'put'; readonly hash: string; readonly ttl?: number | undefined}
  | {readonly op: 'del'; readonly hash: string}
  | {readonly op: 'clear'};

/** A change to the client's rows. Table and column names are the client's (server) names. */
export type RowOp =
  | {readonly op: 'put'; readonly tableName: string; readonly value: JSONRow}
  | {
      readonly op: 'update';
      readonly tableName: string;
      readonly id: PrimaryKeyValueRecord;
      readonly merge?: {readonly [column: string]: JSONValue} | undefined;
      readonly constrain?: readonly string[] | undefined;
    }
  | {readonly op: 'del'; readonly tableName: string; readonly id: PrimaryKeyValueRecord}
  | {readonly op: 'clear'};

/** The outcome of one custom mutation, as the API server reported it. */
export type MutationResult =
  | {readonly data?: JSONValue | undefined}
  | {
      readonly error: 'app';
      readonly message?: string | undefined;
      readonly details?: JSONValue | undefined;
    }
  | {readonly error: 'oooMutation' | 'alreadyProcessed'; readonly details?: JSONValue | undefined};

export type MutationResponse = {readonly id: MutationID; readonly result: MutationResult};

/** A change to the client's mutation results (from replication of `{app}_{shard}.mutations`). */
export type MutOp =
  | {readonly op: 'put'; readonly mutation: MutationResponse}
  | {readonly op: 'del'; readonly id: MutationID};

export type PokePartBody = {
  readonly pokeID: string;
  /** clientID → its new last mutation id. */
  readonly lastMutationIDChanges?: {readonly [clientID: string]: number} | undefined;
  /** clientID → changes to that client's desired queries. */
  readonly desiredQueriesPatches?: {readonly [clientID: string]: readonly QueryOp[]} | undefined;
  readonly gotQueriesPatch?: readonly QueryOp[] | undefined;
  readonly rowsPatch?: readonly RowOp[] | undefined;
  readonly mutationsPatch?: readonly MutOp[] | undefined;
};

export type PokeEndBody = {
  readonly pokeID: string;
  /** The cookie this poke updates TO (ignored when `cancel`). */
  readonly cookie: string;
  /** When true the client discards the poke. */
  readonly cancel?: boolean | undefined;
};

/** A custom query whose transform failed (non-fatal: the query just has no rows). */
export type ErroredQuery =
  | {
      readonly error: 'app';
      readonly id: string;
      readonly name: string;
      readonly message?: string | undefined;
      readonly details?: JSONValue | undefined;
    }
  | {
      readonly error: 'parse';
      readonly id: string;
      readonly name: string;
      readonly message: string;
      readonly details?: JSONValue | undefined;
    };

export type PongBody = Record<string, never>;

export type ConnectedMessage = ['connected', ConnectedBody];
export type PokeStartMessage = ['pokeStart', PokeStartBody];
export type PokePartMessage = ['pokePart', PokePartBody];
export type PokeEndMessage = ['pokeEnd', PokeEndBody];
export type PongMessage = ['pong', PongBody];
/** Ack of client deletions. */
export type DeleteClientsDownMessage = ['deleteClients', DeleteClientsBody];
export type TransformErrorMessage = ['transformError', readonly ErroredQuery[]];
export type InspectDownMessage = ['inspect', InspectDownBody];

/** What zcache sends. (`pull` and `pushResponse` exist in the union but 0.25.9 never sends them.) */
export type DownstreamMessage =
  | ConnectedMessage
  | PokeStartMessage
  | PokePartMessage
  | PokeEndMessage
  | PongMessage
  | ErrorMessage
  | DeleteClientsDownMessage
  | TransformErrorMessage
  | InspectDownMessage;

export type DownstreamMessageType = DownstreamMessage[0];

/** `['connected', {wsid, timestamp}]`, the first message of every accepted socket (§1.4). */
export function connectedMessage(wsid: string, timestamp = Date.now()): ConnectedMessage {
  return ['connected', {wsid, timestamp}];
}

/** `['pong', {}]`: the answer to `ping`, also sent after >6 s without downstream traffic. */
export function pongMessage(): PongMessage {
  return ['pong', {}];
}

/**
 * `['error', body]` for a basic or backoff kind; `origin` defaults to `zeroCache`. PushFailed /
 * TransformFailed bodies have more required fields: build those and send `['error', body]`.
 */
export function errorMessage<K extends BasicErrorKind | BackoffErrorKind>(
  kind: K,
  message: string,
  extra?: ErrorBodyExtra<K>,
): ErrorMessage {
  return ['error', errorBody(kind, message, extra)];
}

/** Serializes a downstream message as the text frame the client expects. */
export function encodeDownstream(message: DownstreamMessage): string {
  return JSON.stringify(message);
}
