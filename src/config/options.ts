import {APP_OPTIONS, AUTH_OPTIONS, CUSTOM_ENDPOINT_OPTIONS} from './options-api.js';
import {
  CHANGE_LOG_OPTIONS,
  CVR_OPTIONS,
  REPLICA_OPTIONS,
  UPSTREAM_OPTIONS,
} from './options-databases.js';
import {
  LITESTREAM_OPTIONS,
  LOG_OPTIONS,
  TELEMETRY_OPTIONS,
  ZCACHE_OPTIONS,
} from './options-operations.js';
import {CHANGE_STREAMER_OPTIONS, SERVER_OPTIONS, SYNC_OPTIONS} from './options-server.js';
import {isValueOption, type OptionSpec, type ValueOption} from './option-spec.js';

/**
 * Every option of zero-cache 0.25.9 plus zcache's own, in --help order. The rows live in the
 * options-*.ts files, one list per section; this is the only place that assembles them.
 */
export const OPTION_SECTIONS = [
  {title: 'Upstream database', options: UPSTREAM_OPTIONS},
  {title: 'Custom mutators and queries (API server)', options: CUSTOM_ENDPOINT_OPTIONS},
  {title: 'Client view records (CVR)', options: CVR_OPTIONS},
  {title: 'Change log', options: CHANGE_LOG_OPTIONS},
  {title: 'Replica', options: REPLICA_OPTIONS},
  {title: 'App and shard', options: APP_OPTIONS},
  {title: 'Server', options: SERVER_OPTIONS},
  {title: 'Change streamer', options: CHANGE_STREAMER_OPTIONS},
  {title: 'Query sync', options: SYNC_OPTIONS},
  {title: 'Authentication and rate limits', options: AUTH_OPTIONS},
  {title: 'Logging', options: LOG_OPTIONS},
  {title: 'Replica backup (litestream)', options: LITESTREAM_OPTIONS},
  {title: 'Telemetry and events', options: TELEMETRY_OPTIONS},
  {title: 'zcache only', options: ZCACHE_OPTIONS},
] as const;

export const OPTIONS: readonly OptionSpec[] = OPTION_SECTIONS.flatMap(
  (section): readonly OptionSpec[] => section.options,
);

export const VALUE_OPTIONS: readonly ValueOption[] = OPTIONS.filter(isValueOption);

export const OPTION_BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(
  OPTIONS.map((spec) => [spec.flag, spec]),
);

export function valueOptionByFlag(flag: string): ValueOption {
  const spec = OPTION_BY_FLAG.get(flag);
  if (spec === undefined || !isValueOption(spec)) {
    throw new Error(`no value option --${flag}`);
  }
  return spec;
}

type Row = (typeof OPTION_SECTIONS)[number]['options'][number];
type ValueRow = Extract<Row, {key: string}>;

type ValueOf<R> = R extends {type: 'enum'; values: readonly (infer V)[]}
  ? V
  : R extends {type: 'string'}
    ? string
    : R extends {type: 'number'}
      ? number
      : R extends {type: 'boolean'}
        ? boolean
        : R extends {type: 'string[]'}
          ? string[]
          : never;

type Settled<R> = R extends {derivedMayBeUnset: true}
  ? ValueOf<R> | undefined
  : R extends {default: unknown} | {derived: string}
    ? ValueOf<R>
    : ValueOf<R> | undefined;

type TopLevelRow = Exclude<ValueRow, {key: `${string}.${string}`}>;
type GroupedRow = Extract<ValueRow, {key: `${string}.${string}`}>;
type GroupName = GroupedRow['key'] extends infer K
  ? K extends `${infer G}.${string}`
    ? G
    : never
  : never;

type TopLevelFields = {[R in TopLevelRow as R['key']]: Settled<R>};
type GroupFields<G extends string> = {
  [
    R in Extract<GroupedRow, {key: `${G}.${string}`}> as R['key'] extends `${G}.${infer F}`
      ? F
      : never
  ]: Settled<R>;
};

/**
 * The parsed configuration, shaped like zero-cache's (`config.upstream.db`, `config.port`).
 * Options without a default are `undefined` when unset; derived defaults are filled in.
 */
export type ZeroConfig = TopLevelFields & {[G in GroupName]: GroupFields<G>};
