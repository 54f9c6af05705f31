/**
 * Upstream connection and query messages (fact sheet §1.7, §2.12): `initConnection`,
 * `changeDesiredQueries`, `deleteClients`, and the pieces they share (UpQueryOp, ClientSchema).
 * Strict schemas: unknown keys in any message object are errors (JSON `args` are data).
 */
import * as v from '@badrap/valita';
import {astSchema, type AST} from './ast.js';
import {jsonValueSchema, type JSONValue} from './sync-json.js';

/**
 * Adds (or refreshes the TTL of) a desired query. Legacy (client-ZQL) queries carry `ast`; custom
 * (synced) queries carry `name` + `args`. The schema accepts any combination, as the reference's
 * does; which form is present is for the view-syncer to judge.
 */
export type UpQueryPutOp = {
  readonly op: 'put';
  /** The query id (§2.4). */
  readonly hash: string;
  /** Milliseconds; absent ⇒ the default TTL. */
  readonly ttl?: number | undefined;
  readonly ast?: AST | undefined;
  readonly name?: string | undefined;
  readonly args?: readonly JSONValue[] | undefined;
};
export type UpQueryDelOp = {readonly op: 'del'; readonly hash: string};
export type UpQueryClearOp = {readonly op: 'clear'};
export type UpQueryOp = UpQueryPutOp | UpQueryDelOp | UpQueryClearOp;

/** A column's client-side type. */
export type ClientValueType = 'string' | 'number' | 'boolean' | 'null' | 'json';

export const CLIENT_VALUE_TYPES = [
  'string',
  'number',
  'boolean',
  'null',
  'json',
] as const satisfies readonly ClientValueType[];

export type ClientColumnSchema = {readonly type: ClientValueType};

/** A table as the client sees it, with server names. `primaryKey` is required since v41. */
export type ClientTableSchema = {
  readonly columns: {readonly [serverColumnName: string]: ClientColumnSchema};
  readonly primaryKey: readonly string[];
};

/** What the client's schema says about the tables it syncs (sent with `baseCookie` null only). */
export type ClientSchema = {
  readonly tables: {readonly [serverTableName: string]: ClientTableSchema};
};

/** Clients (of this group) the client has deleted locally. `clientGroupIDs` is ignored. */
export type DeleteClientsBody = {
  readonly clientIDs?: readonly string[] | undefined;
  readonly clientGroupIDs?: readonly string[] | undefined;
};

export type InitConnectionBody = {
  readonly desiredQueriesPatch: readonly UpQueryOp[];
  /** Present only when the client has no cookie yet. */
  readonly clientSchema?: ClientSchema | undefined;
  readonly deleted?: DeleteClientsBody | undefined;
  readonly userPushURL?: string | undefined;
  /** v45: headers the app asks to send with its pushes (forwarded only if allow-listed). */
  readonly userPushHeaders?: Readonly<Record<string, string>> | undefined;
  readonly userQueryURL?: string | undefined;
  /** v45: headers the app asks to send with its query transforms (forwarded only if allow-listed). */
  readonly userQueryHeaders?: Readonly<Record<string, string>> | undefined;
  /** Client ids still alive in the group (absent when sent as a socket message, §1.4). */
  readonly activeClients?: readonly string[] | undefined;
  /** v50: W3C trace context. */
  readonly traceparent?: string | undefined;
};

export type ChangeDesiredQueriesBody = {
  readonly desiredQueriesPatch: readonly UpQueryOp[];
  /** v50: W3C trace context, forwarded to the API server with the transforms it causes. */
  readonly traceparent?: string | undefined;
};

const upQueryOpSchema: v.Type<UpQueryOp> = v.union(
  v.object({
    op: v.literal('put'),
    hash: v.string(),
    ttl: v.number().optional(),
    ast: astSchema.optional(),
    name: v.string().optional(),
    args: v.array(jsonValueSchema).optional(),
  }),
  v.object({op: v.literal('del'), hash: v.string()}),
  v.object({op: v.literal('clear')}),
);

export const upQueriesPatchSchema: v.Type<readonly UpQueryOp[]> = v.array(upQueryOpSchema);

export const clientSchemaSchema: v.Type<ClientSchema> = v.object({
  tables: v.record(
    v.object({
      columns: v.record(
        v.object({type: v.union(...CLIENT_VALUE_TYPES.map((type) => v.literal(type)))}),
      ),
      primaryKey: v.array(v.string()),
    }),
  ),
});

export const deleteClientsBodySchema: v.Type<DeleteClientsBody> = v.object({
  clientIDs: v.array(v.string()).optional(),
  clientGroupIDs: v.array(v.string()).optional(),
});

export const initConnectionBodySchema: v.Type<InitConnectionBody> = v.object({
  desiredQueriesPatch: upQueriesPatchSchema,
  clientSchema: clientSchemaSchema.optional(),
  deleted: deleteClientsBodySchema.optional(),
  userPushURL: v.string().optional(),
  userPushHeaders: v.record(v.string()).optional(),
  userQueryURL: v.string().optional(),
  userQueryHeaders: v.record(v.string()).optional(),
  activeClients: v.array(v.string()).optional(),
  traceparent: v.string().optional(),
});

export const changeDesiredQueriesBodySchema: v.Type<ChangeDesiredQueriesBody> = v.object({
  desiredQueriesPatch: upQueriesPatchSchema,
  traceparent: v.string().optional(),
});
