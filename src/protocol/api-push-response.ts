/**
 * What the app's API server answers to a push (fact sheet §7.4, §7.5), parsed from untrusted
 * JSON: per-mutation results — bare (`{mutations}`, 0.25 helpers) or in 1.x's envelope
 * (`{kind: 'MutateResponse', mutations, userID?}`) — a PushFailed body of its own, or one of the
 * legacy error forms, which are turned into the PushFailed they mean. Anything else is
 * `unparsable`.
 */
import * as v from '@badrap/valita';
import {jsonValueSchema, type JSONValue} from './sync-json.js';
import {mutationIDSchema, type MutationID} from './sync-up-push.js';
import type {PushFailedServerReason} from './sync-errors.js';

export type MutationResult =
  | {readonly kind: 'ok'}
  | {readonly kind: 'app'; readonly message?: string | undefined; readonly details?: JSONValue}
  | {readonly kind: 'oooMutation' | 'alreadyProcessed'};

export type PushResponse =
  | {
      readonly kind: 'results';
      readonly results: readonly {id: MutationID; result: MutationResult}[];
      /**
       * 1.x envelopes: the user the API server acted for (null: logged out); undefined when the
       * answer does not say.
       */
      readonly userID?: string | null | undefined;
    }
  | {
      readonly kind: 'failed';
      /** As the API server reported it (origin `server`), or converted from a legacy form. */
      readonly failure:
        | {origin: 'server'; reason: PushFailedServerReason}
        | {origin: 'zeroCache'; reason: 'http'; status: number; bodyPreview?: string | undefined};
      readonly message: string;
      readonly mutationIDs?: readonly MutationID[] | undefined;
      readonly details?: JSONValue | undefined;
    }
  | {readonly kind: 'unparsable'; readonly message: string};

const resultSchema = v.union(
  v.object({data: jsonValueSchema.optional()}),
  v.object({
    error: v.literal('app'),
    message: v.string().optional(),
    details: jsonValueSchema.optional(),
  }),
  v.object({
    error: v.union(v.literal('oooMutation'), v.literal('alreadyProcessed')),
    details: jsonValueSchema.optional(),
  }),
);

const mutationResultsSchema = v.array(v.object({id: mutationIDSchema, result: resultSchema}));

const okSchema = v.union(
  v.object({mutations: mutationResultsSchema}),
  // 1.x helpers; later keys are tolerated, as 1.9's zero-cache does.
  v
    .object({
      kind: v.literal('MutateResponse'),
      mutations: mutationResultsSchema,
      userID: v.union(v.string(), v.null()).optional(),
    })
    .rest(v.unknown()),
);

const ids = v.array(mutationIDSchema).optional();

const pushFailedSchema = v
  .object({
    kind: v.literal('PushFailed'),
    origin: v.literal('server'),
    reason: v.union(
      v.literal('database'),
      v.literal('parse'),
      v.literal('oooMutation'),
      v.literal('unsupportedPushVersion'),
      v.literal('internal'),
    ),
    message: v.string(),
    mutationIDs: ids,
    details: jsonValueSchema.optional(),
  })
  .rest(v.unknown());

const legacySchema = v.union(
  v.object({error: v.literal('unsupportedPushVersion'), mutationIDs: ids}),
  v.object({error: v.literal('unsupportedSchemaVersion'), mutationIDs: ids}),
  v.object({error: v.literal('http'), status: v.number(), details: v.string(), mutationIDs: ids}),
  v.object({error: v.literal('zeroPusher'), details: v.string(), mutationIDs: ids}),
);

export function parsePushResponse(body: unknown): PushResponse {
  const ok = okSchema.try(body);
  if (ok.ok) {
    return {
      kind: 'results',
      results: ok.value.mutations.map(({id, result}) => ({id, result: toResult(result)})),
      userID: 'userID' in ok.value ? ok.value.userID : undefined,
    };
  }
  const failed = pushFailedSchema.try(body);
  if (failed.ok) {
    const f = failed.value;
    return {
      kind: 'failed',
      failure: {origin: 'server', reason: f.reason},
      message: f.message,
      mutationIDs: f.mutationIDs,
      details: f.details,
    };
  }
  const legacy = legacySchema.try(body);
  if (legacy.ok) return fromLegacy(legacy.value);
  return {
    kind: 'unparsable',
    message: `The API server's push response has an unexpected shape: ${preview(body)}`,
  };
}

function toResult(r: v.Infer<typeof resultSchema>): MutationResult {
  if (!('error' in r)) return {kind: 'ok'};
  if (r.error === 'app') return {kind: 'app', message: r.message, details: r.details};
  return {kind: r.error};
}

function fromLegacy(l: v.Infer<typeof legacySchema>): PushResponse {
  switch (l.error) {
    case 'unsupportedPushVersion':
      return {
        kind: 'failed',
        failure: {origin: 'server', reason: 'unsupportedPushVersion'},
        message: 'The API server does not support this push version',
        mutationIDs: l.mutationIDs,
      };
    case 'unsupportedSchemaVersion':
      return {
        kind: 'failed',
        failure: {origin: 'server', reason: 'internal'},
        message: 'The API server does not support this schema version',
        mutationIDs: l.mutationIDs,
      };
    case 'http':
      return {
        kind: 'failed',
        failure: {origin: 'zeroCache', reason: 'http', status: l.status, bodyPreview: l.details},
        message: `The API server reported HTTP status ${l.status}`,
        mutationIDs: l.mutationIDs,
      };
    case 'zeroPusher':
      return {
        kind: 'failed',
        failure: {origin: 'server', reason: 'internal'},
        message: l.details,
        mutationIDs: l.mutationIDs,
      };
  }
}

function preview(body: unknown): string {
  const text = JSON.stringify(body) ?? String(body);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
