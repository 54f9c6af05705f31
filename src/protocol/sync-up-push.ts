/**
 * Upstream mutation messages (fact sheet §1.7, §7.4): `push` (custom and legacy CRUD mutations)
 * and `ackMutationResponses`. Strict schemas: unknown keys in any message object are errors
 * (values inside `args` and rows are JSON data and are not key-checked).
 *
 * Numbers are checked as numbers only (no integer check), as the reference does.
 */
import * as v from '@badrap/valita';
import {jsonRowSchema, jsonValueSchema, type JSONRow, type JSONValue} from './sync-json.js';

/** Identifies one mutation: the client that made it and its per-client sequence number. */
export type MutationID = {
  readonly id: number;
  readonly clientID: string;
};

/** The `name` every legacy CRUD mutation carries. */
export const CRUD_MUTATION_NAME = '_zero_crud';

/** A non-empty list of (server) column names. */
export type PrimaryKey = readonly [string, ...string[]];

/** A primary-key value: what identifies a row (a `delete` op's `value`). */
export type PrimaryKeyValueRecord = {readonly [column: string]: string | number | boolean};

/**
 * One write of a CRUD mutation, with server table/column names. `value` is the full row for
 * insert/upsert, a partial row including the key for update, and the key only for delete.
 */
export type CRUDOp =
  | {
      readonly op: 'insert' | 'upsert' | 'update';
      readonly tableName: string;
      readonly primaryKey: PrimaryKey;
      readonly value: JSONRow;
    }
  | {
      readonly op: 'delete';
      readonly tableName: string;
      readonly primaryKey: PrimaryKey;
      readonly value: PrimaryKeyValueRecord;
    };
export type CRUDOpKind = CRUDOp['op'];

export type CRUDMutationArg = {readonly ops: readonly CRUDOp[]};

/** A legacy mutation, applied by zero-cache itself (§7.6). */
export type CRUDMutation = {
  readonly type: 'crud';
  readonly id: number;
  readonly clientID: string;
  readonly name: typeof CRUD_MUTATION_NAME;
  readonly args: readonly [CRUDMutationArg];
  readonly timestamp: number;
};

/** A custom-mutator call, forwarded to ZERO_MUTATE_URL (§7.4). */
export type CustomMutation = {
  readonly type: 'custom';
  readonly id: number;
  readonly clientID: string;
  readonly name: string;
  readonly args: readonly JSONValue[];
  readonly timestamp: number;
};

export type Mutation = CRUDMutation | CustomMutation;

/**
 * The body of a `push`. The 0.25.9 client sends one mutation per message with `pushVersion: 1`;
 * `timestamp` is wall-clock ms and `requestID` is the Replicache request id.
 */
export type PushBody = {
  readonly clientGroupID: string;
  readonly mutations: readonly Mutation[];
  readonly pushVersion: number;
  /** Legacy CRUD mutations only: the client's schema version. */
  readonly schemaVersion?: number | undefined;
  readonly timestamp: number;
  readonly requestID: string;
  /** v47, deprecated: never sent by 1.x clients and ignored, as by the reference. */
  readonly auth?: string | undefined;
  /** v50: W3C trace context, forwarded to the API server. */
  readonly traceparent?: string | undefined;
};

/** `ackMutationResponses`: results up to and including this mutation may be deleted. */
export type AckMutationResponsesBody = MutationID;

export const mutationIDSchema: v.Type<MutationID> = v.object({
  id: v.number(),
  clientID: v.string(),
});

const primaryKeySchema: v.Type<PrimaryKey> = v.tuple([v.string()]).concat(v.array(v.string()));

const primaryKeyValueRecordSchema: v.Type<PrimaryKeyValueRecord> = v.record(
  v.union(v.string(), v.number(), v.boolean()),
);

const rowWriteOpSchema = (op: 'insert' | 'upsert' | 'update') =>
  v.object({
    op: v.literal(op),
    tableName: v.string(),
    primaryKey: primaryKeySchema,
    value: jsonRowSchema,
  });

const crudOpSchema: v.Type<CRUDOp> = v.union(
  rowWriteOpSchema('insert'),
  rowWriteOpSchema('upsert'),
  rowWriteOpSchema('update'),
  v.object({
    op: v.literal('delete'),
    tableName: v.string(),
    primaryKey: primaryKeySchema,
    value: primaryKeyValueRecordSchema,
  }),
);

const crudMutationSchema: v.Type<CRUDMutation> = v.object({
  type: v.literal('crud'),
  id: v.number(),
  clientID: v.string(),
  name: v.literal(CRUD_MUTATION_NAME),
  args: v.tuple([v.object({ops: v.array(crudOpSchema)})]),
  timestamp: v.number(),
});

const customMutationSchema: v.Type<CustomMutation> = v.object({
  type: v.literal('custom'),
  id: v.number(),
  clientID: v.string(),
  name: v.string(),
  args: v.array(jsonValueSchema),
  timestamp: v.number(),
});

export const mutationSchema: v.Type<Mutation> = v.union(crudMutationSchema, customMutationSchema);

export const pushBodySchema: v.Type<PushBody> = v.object({
  clientGroupID: v.string(),
  mutations: v.array(mutationSchema),
  pushVersion: v.number(),
  schemaVersion: v.number().optional(),
  timestamp: v.number(),
  requestID: v.string(),
  auth: v.string().optional(),
  traceparent: v.string().optional(),
});

export const ackMutationResponsesBodySchema: v.Type<AckMutationResponsesBody> = mutationIDSchema;
