import {badValueProblem, type Origin} from './config-error.js';
import {readByKey} from './config-object.js';
import {VALUE_OPTIONS, valueOptionByFlag, type ZeroConfig} from './options.js';
import {optionLabel, type ValueOption} from './option-spec.js';

export interface RuleInput {
  readonly config: ZeroConfig;
  readonly origins: ReadonlyMap<string, Origin>;
  /** Keys whose given value was already reported as bad; rules that read them stay quiet. */
  readonly failed: ReadonlySet<string>;
  readonly nodeEnv: string | undefined;
}

type Rule = (input: RuleInput) => string[];

const APP_ID_SYNTAX = /^[a-z0-9_]+$/;
const POSTGRES_PROTOCOLS: ReadonlySet<string> = new Set(['postgres:', 'postgresql:']);

export function checkRules(input: RuleInput): string[] {
  const rules: readonly Rule[] = [
    checkNumberRanges,
    checkAppID,
    checkPublications,
    checkPoolsCoverWorkers,
    checkDatabaseURLs,
    checkAdminPassword,
  ];
  return rules.flatMap((rule) => rule(input));
}

function problemFor(
  input: RuleInput,
  spec: ValueOption,
  value: unknown,
  reason: string,
  expected?: string,
) {
  return badValueProblem(
    spec,
    value,
    input.origins.get(spec.key) ?? 'the default',
    reason,
    expected,
  );
}

function checkNumberRanges(input: RuleInput): string[] {
  const problems: string[] = [];
  for (const spec of VALUE_OPTIONS) {
    const value = readByKey(input.config, spec.key);
    if (typeof value !== 'number' || input.failed.has(spec.key)) {
      continue;
    }
    const tooSmall = spec.min !== undefined && value < spec.min;
    const tooLarge = spec.max !== undefined && value > spec.max;
    if (tooSmall || tooLarge) {
      problems.push(problemFor(input, spec, value, 'is out of range'));
    }
  }
  return problems;
}

function checkAppID(input: RuleInput): string[] {
  const {id} = input.config.app;
  if (APP_ID_SYNTAX.test(id)) {
    return [];
  }
  const expected = 'only lower-case letters, digits and underscores (^[a-z0-9_]+$)';
  return [problemFor(input, valueOptionByFlag('app-id'), id, 'is not a valid app id', expected)];
}

function checkPublications(input: RuleInput): string[] {
  const spec = valueOptionByFlag('app-publications');
  return input.config.app.publications
    .filter((name) => name.startsWith('_'))
    .map((name) =>
      problemFor(
        input,
        spec,
        name,
        'starts with "_", which zero reserves for its internal publications',
        'publication names that do not start with an underscore',
      ),
    );
}

function checkPoolsCoverWorkers(input: RuleInput): string[] {
  const workers = input.config.numSyncWorkers;
  if (input.failed.has('numSyncWorkers')) {
    return [];
  }
  const workersLabel = optionLabel(valueOptionByFlag('num-sync-workers'));
  return ['upstream-max-conns', 'cvr-max-conns']
    .map(valueOptionByFlag)
    .filter((spec) => !input.failed.has(spec.key))
    .filter((spec) => (readByKey(input.config, spec.key) as number) < workers)
    .map((spec) =>
      problemFor(
        input,
        spec,
        readByKey(input.config, spec.key),
        `is less than the ${workers} sync workers`,
        `at least one connection per sync worker (${workers} or more), or fewer ${workersLabel}`,
      ),
    );
}

/**
 * A custom upstream is not a Postgres URL; the CVR and change databases still are. A CVR or change
 * database equal to a Postgres upstream is left to the upstream's check, to report it once.
 */
function checkDatabaseURLs(input: RuleInput): string[] {
  const {config} = input;
  const upstreamIsPostgres = config.upstream.type === 'pg';
  const problems: string[] = [];
  for (const spec of ['upstream-db', 'cvr-db', 'change-db'].map(valueOptionByFlag)) {
    const url = readByKey(config, spec.key);
    const coveredElsewhere =
      spec.key === 'upstream.db'
        ? !upstreamIsPostgres
        : upstreamIsPostgres && url === config.upstream.db;
    if (coveredElsewhere) {
      continue;
    }
    if (typeof url === 'string' && !isPostgresURL(url)) {
      const expected = 'a postgres:// or postgresql:// URL';
      problems.push(problemFor(input, spec, url, 'is not a Postgres URL', expected));
    }
  }
  return problems;
}

function isPostgresURL(text: string): boolean {
  try {
    return POSTGRES_PROTOCOLS.has(new URL(text).protocol);
  } catch {
    return false;
  }
}

function checkAdminPassword({config, nodeEnv}: RuleInput): string[] {
  if (config.adminPassword || nodeEnv === 'development') {
    return [];
  }
  const mode = nodeEnv === undefined ? 'NODE_ENV is unset' : `NODE_ENV=${nodeEnv}`;
  return [
    `${optionLabel(valueOptionByFlag('admin-password'))}: not set, which production mode ` +
      `(${mode}) does not allow; expected a password: set ZERO_ADMIN_PASSWORD, ` +
      'or set NODE_ENV=development to run without one',
  ];
}
