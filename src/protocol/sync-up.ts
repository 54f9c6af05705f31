/**
 * Every message a Zero client sends on the sync socket (fact sheet §1.7), and the one entry point
 * that turns untrusted input into them: {@link parseUpstreamMessage} (or {@link parseUpstreamText}
 * for a raw frame).
 *
 * Parsing is strict like the reference's: a message is a 2-element array `[type, body]` of a known
 * type, and any object in the body with a key the schema does not know is an error. Every failure
 * is an {@link InvalidMessageError}, a {@link ProtocolError} of kind `InvalidMessage` whose message
 * names the path of the problem (e.g. `message[1].desiredQueriesPatch[0].ast.table`); the
 * connection sends it and closes (§1.9).
 */
import * as v from '@badrap/valita';
import {ASTParseError, describeValue, type ValitaIssue} from './ast-parse-error.js';
import {ErrorKind, ErrorOrigin, ProtocolError, type BasicErrorBody} from './sync-errors.js';
import {inspectUpBodySchema, type InspectUpBody} from './sync-up-inspect.js';
import {
  ackMutationResponsesBodySchema,
  pushBodySchema,
  type AckMutationResponsesBody,
  type PushBody,
} from './sync-up-push.js';
import {
  changeDesiredQueriesBodySchema,
  deleteClientsBodySchema,
  initConnectionBodySchema,
  type ChangeDesiredQueriesBody,
  type DeleteClientsBody,
  type InitConnectionBody,
} from './sync-up-queries.js';

export type * from './sync-up-inspect.js';
export type * from './sync-up-push.js';
export type * from './sync-up-queries.js';
export {CRUD_MUTATION_NAME} from './sync-up-push.js';

/** `pull` (mutation recovery): logged and ignored by the server; no response. */
export type PullRequestBody = {
  readonly clientGroupID: string;
  readonly cookie: string | null;
  readonly requestID: string;
};

/** `ping`: answered at once with `['pong', {}]`. */
export type PingBody = Record<string, never>;

/**
 * `updateAuth` (v48): the client's new token for this connection (sent by a 1.x client when the app
 * re-authenticates while connected). A token of another user is refused.
 */
export type UpdateAuthBody = {readonly auth: string};

/** `closeConnection` (deprecated): any array, ignored. */
export type CloseConnectionBody = readonly unknown[];

export type InitConnectionMessage = ['initConnection', InitConnectionBody];
export type ChangeDesiredQueriesMessage = ['changeDesiredQueries', ChangeDesiredQueriesBody];
export type DeleteClientsMessage = ['deleteClients', DeleteClientsBody];
export type PushMessage = ['push', PushBody];
export type AckMutationResponsesMessage = ['ackMutationResponses', AckMutationResponsesBody];
export type PingMessage = ['ping', PingBody];
export type PullRequestMessage = ['pull', PullRequestBody];
export type UpdateAuthMessage = ['updateAuth', UpdateAuthBody];
export type CloseConnectionMessage = ['closeConnection', CloseConnectionBody];
export type InspectUpMessage = ['inspect', InspectUpBody];

export type UpstreamMessage =
  | InitConnectionMessage
  | ChangeDesiredQueriesMessage
  | DeleteClientsMessage
  | PushMessage
  | AckMutationResponsesMessage
  | PingMessage
  | PullRequestMessage
  | UpdateAuthMessage
  | CloseConnectionMessage
  | InspectUpMessage;

export type UpstreamMessageType = UpstreamMessage[0];

/** The body type of the upstream message of type `T`. */
export type UpstreamBody<T extends UpstreamMessageType> = Extract<UpstreamMessage, [T, unknown]>[1];

const BODY_SCHEMAS: {readonly [T in UpstreamMessageType]: v.Type<UpstreamBody<T>>} = {
  initConnection: initConnectionBodySchema,
  changeDesiredQueries: changeDesiredQueriesBodySchema,
  deleteClients: deleteClientsBodySchema,
  push: pushBodySchema,
  ackMutationResponses: ackMutationResponsesBodySchema,
  ping: v.object({}),
  pull: v.object({
    clientGroupID: v.string(),
    cookie: v.union(v.string(), v.null()),
    requestID: v.string(),
  }),
  updateAuth: v.object({auth: v.string()}),
  closeConnection: v.array(v.unknown()),
  inspect: inspectUpBodySchema,
};

/** Every upstream message type, in the order of the fact sheet's table. */
export const UPSTREAM_MESSAGE_TYPES = Object.keys(BODY_SCHEMAS) as readonly UpstreamMessageType[];

/** An upstream message failed to parse. Send {@link ProtocolError.toMessage} and close. */
export class InvalidMessageError extends ProtocolError<BasicErrorBody> {
  override readonly name = 'InvalidMessageError';

  constructor(
    message: string,
    /** Where the (first) problem is, e.g. `message[1].mutations[0].name`. */
    readonly path: string,
    /** All schema issues found (empty when the problem is the message's outer shape). */
    readonly issues: readonly ValitaIssue[] = [],
  ) {
    super({kind: ErrorKind.InvalidMessage, message, origin: ErrorOrigin.ZeroCache});
  }
}

/**
 * Parses a JSON text frame (binary frames: pass `data.toString()`). Throws
 * {@link InvalidMessageError} for text that is not JSON, and as {@link parseUpstreamMessage}.
 */
export function parseUpstreamText(text: string): UpstreamMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const preview = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    const reason = e instanceof Error ? e.message : String(e);
    throw new InvalidMessageError(
      `Invalid message: not JSON (${reason}): ${JSON.stringify(preview)}`,
      'message',
    );
  }
  return parseUpstreamMessage(json);
}

/**
 * Checks that `json` (a parsed frame) is `[type, body]` with a known `type` and a body that
 * strictly matches that type's schema. On success the result holds `json`'s body (not a copy).
 */
export function parseUpstreamMessage(json: unknown): UpstreamMessage {
  if (!Array.isArray(json)) {
    throw new InvalidMessageError(
      `Invalid message: expected an array [type, body] but got ${describeValue(json)}`,
      'message',
    );
  }
  if (json.length !== 2) {
    throw new InvalidMessageError(
      `Invalid message: expected an array [type, body] but got an array of length ${json.length}`,
      'message',
    );
  }
  const [type, body] = json as [unknown, unknown];
  if (!isUpstreamMessageType(type)) {
    throw new InvalidMessageError(
      `Invalid message at message[0]: unknown message type ${describeValue(type)}; expected ` +
        `one of ${UPSTREAM_MESSAGE_TYPES.map((t) => JSON.stringify(t)).join(', ')}`,
      'message[0]',
    );
  }
  const result = tryBodySchema(type, body);
  if (!result.ok) {
    const detail = ASTParseError.fromIssues(result.issues, body, `"${type}" message`, 'message[1]');
    throw new InvalidMessageError(detail.message, detail.path, result.issues);
  }
  return [type, result.value] as UpstreamMessage;
}

/**
 * Runs the body schema. Schemas recurse through nested ASTs, so absurdly deep input (about a
 * thousand levels) exhausts the stack: that is the client's fault too, so it is reported as an
 * invalid message (as the reference does) rather than escaping as an internal error.
 */
function tryBodySchema(type: UpstreamMessageType, body: unknown): v.ValitaResult<unknown> {
  try {
    return (BODY_SCHEMAS[type] as v.Type<unknown>).try(body, {mode: 'strict'});
  } catch (e) {
    if (e instanceof RangeError) {
      throw new InvalidMessageError(
        `Invalid "${type}" message at message[1]: nested too deeply to check (${e.message})`,
        'message[1]',
      );
    }
    throw e;
  }
}

function isUpstreamMessageType(type: unknown): type is UpstreamMessageType {
  return typeof type === 'string' && Object.hasOwn(BODY_SCHEMAS, type);
}
