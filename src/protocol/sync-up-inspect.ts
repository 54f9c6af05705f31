/**
 * Upstream inspector requests (fact sheet §9.2): `['inspect', {id, op, …}]`. Every answer echoes
 * `id`. Strict schemas: unknown keys are errors (JSON `args` are data).
 */
import * as v from '@badrap/valita';
import {astSchema, type AST} from './ast.js';
import {jsonValueSchema, type JSONValue} from './sync-json.js';

/** The client group's queries (all clients, or one `clientID`'s). */
export type InspectQueriesUpBody = {
  readonly id: string;
  readonly op: 'queries';
  readonly clientID?: string | undefined;
};

export type InspectMetricsUpBody = {readonly id: string; readonly op: 'metrics'};

export type InspectVersionUpBody = {readonly id: string; readonly op: 'version'};

/** `value` is the admin password (v31+). */
export type InspectAuthenticateUpBody = {
  readonly id: string;
  readonly op: 'authenticate';
  readonly value: string;
};

export type AnalyzeQueryOptions = {
  readonly vendedRows?: boolean | undefined;
  readonly syncedRows?: boolean | undefined;
  readonly joinPlans?: boolean | undefined;
};

/** Runs one query for diagnosis: a legacy `ast` (or deprecated `value`), or `name` + `args`. */
export type InspectAnalyzeQueryUpBody = {
  readonly id: string;
  readonly op: 'analyze-query';
  /** @deprecated the client now sends `ast`. */
  readonly value?: AST | undefined;
  readonly options?: AnalyzeQueryOptions | undefined;
  readonly ast?: AST | undefined;
  readonly name?: string | undefined;
  readonly args?: readonly JSONValue[] | undefined;
};

export type InspectUpBody =
  | InspectQueriesUpBody
  | InspectMetricsUpBody
  | InspectVersionUpBody
  | InspectAuthenticateUpBody
  | InspectAnalyzeQueryUpBody;

export type InspectUpOp = InspectUpBody['op'];

export const inspectUpBodySchema: v.Type<InspectUpBody> = v.union(
  v.object({id: v.string(), op: v.literal('queries'), clientID: v.string().optional()}),
  v.object({id: v.string(), op: v.literal('metrics')}),
  v.object({id: v.string(), op: v.literal('version')}),
  v.object({id: v.string(), op: v.literal('authenticate'), value: v.string()}),
  v.object({
    id: v.string(),
    op: v.literal('analyze-query'),
    value: astSchema.optional(),
    options: v
      .object({
        vendedRows: v.boolean().optional(),
        syncedRows: v.boolean().optional(),
        joinPlans: v.boolean().optional(),
      })
      .optional(),
    ast: astSchema.optional(),
    name: v.string().optional(),
    args: v.array(jsonValueSchema).optional(),
  }),
);
