import {badValueProblem, type Origin} from './config-error.js';
import type {RawSetting, SourceSettings} from './config-sources.js';
import {OPTIONS, VALUE_OPTIONS} from './options.js';
import {
  isAliasOption,
  isRejectedOption,
  optionLabel,
  type AliasOption,
  type ValueOption,
} from './option-spec.js';

export type ConfigValue = string | number | boolean | string[];

/** Option values by ZeroConfig key, before derived defaults and cross-option checks. */
export interface ResolvedValues {
  readonly values: Map<string, ConfigValue | undefined>;
  readonly origins: Map<string, Origin>;
  /** Keys whose given value was rejected; checks that read them are skipped. */
  readonly failed: Set<string>;
}

const ALIASES_BY_TARGET = groupAliasesByTarget();

function groupAliasesByTarget(): ReadonlyMap<string, readonly AliasOption[]> {
  const byTarget = new Map<string, AliasOption[]>();
  for (const spec of OPTIONS.filter(isAliasOption)) {
    byTarget.set(spec.aliasOf, [...(byTarget.get(spec.aliasOf) ?? []), spec]);
  }
  return byTarget;
}

/** `sources` in precedence order: the first source that sets an option decides its value. */
export function resolveValues(
  sources: readonly SourceSettings[],
  problems: string[],
  warn: (message: string) => void,
): ResolvedValues {
  const resolved: ResolvedValues = {values: new Map(), origins: new Map(), failed: new Set()};
  for (const spec of VALUE_OPTIONS) {
    const setting = pickSetting(spec, sources);
    resolved.values.set(spec.key, copyOf(spec.default));
    resolved.origins.set(spec.key, 'the default');
    if (setting === undefined) {
      continue;
    }
    const deprecation = spec.deprecated ?? deprecationOf(setting);
    if (deprecation !== undefined) {
      warn(`${optionLabel(setting.spec)} is deprecated: ${deprecation}`);
    }
    const converted = convertSetting(spec, setting);
    if (converted instanceof BadValue) {
      problems.push(converted.problem);
      resolved.failed.add(spec.key);
      continue;
    }
    resolved.values.set(spec.key, converted);
    resolved.origins.set(spec.key, setting.origin);
  }
  problems.push(...rejectedOptionProblems(sources));
  return resolved;
}

function pickSetting(
  spec: ValueOption,
  sources: readonly SourceSettings[],
): RawSetting | undefined {
  const aliases = ALIASES_BY_TARGET.get(spec.flag) ?? [];
  for (const source of sources) {
    const own = source.get(spec.flag);
    const alias = aliases.map((a) => source.get(a.flag)).find((s) => s !== undefined);
    const aliasWins =
      alias !== undefined && isAliasOption(alias.spec) && alias.spec.overridesTarget;
    if (alias !== undefined && (own === undefined || aliasWins)) {
      return alias;
    }
    if (own !== undefined) {
      return own;
    }
  }
  return undefined;
}

function deprecationOf(setting: RawSetting): string | undefined {
  return isAliasOption(setting.spec) ? setting.spec.deprecated : undefined;
}

function copyOf(value: ValueOption['default']): ConfigValue | undefined {
  return Array.isArray(value) ? [...value] : (value as ConfigValue | undefined);
}

function rejectedOptionProblems(sources: readonly SourceSettings[]): string[] {
  const problems: string[] = [];
  for (const spec of OPTIONS.filter(isRejectedOption)) {
    const setting = sources.map((s) => s.get(spec.flag)).find((s) => s !== undefined);
    if (setting !== undefined) {
      const value = JSON.stringify(setting.tokens.join(','));
      problems.push(
        `${optionLabel(spec)}: ${value} (from ${setting.origin}) is no longer accepted; ` +
          spec.rejected,
      );
    }
  }
  return problems;
}

const NUMBER_SYNTAX = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['1', true],
  ['false', false],
  ['0', false],
]);

/** Why a setting's text is not a value of its option. */
export class BadValue {
  constructor(readonly problem: string) {}
}

/** The typed value of a setting; for a scalar given several times, the last one. */
export function convertSetting(spec: ValueOption, setting: RawSetting): ConfigValue | BadValue {
  const text = setting.tokens.at(-1) ?? '';
  const bad = (reason?: string) =>
    new BadValue(badValueProblem(spec, text, setting.origin, reason));
  switch (spec.type) {
    case 'string':
      return text;
    case 'string[]':
      return setting.tokens
        .flatMap((t) => t.split(','))
        .map((item) => item.trim())
        .filter(Boolean);
    case 'boolean': {
      const value = BOOLEAN_WORDS.get(text.trim().toLowerCase());
      return value ?? bad('is not a boolean');
    }
    case 'enum':
      return spec.values?.includes(text) ? text : bad();
    case 'number': {
      const value = NUMBER_SYNTAX.test(text.trim()) ? Number(text) : NaN;
      if (!Number.isFinite(value)) {
        return bad('is not a finite number');
      }
      return !spec.integer || Number.isInteger(value) ? value : bad('is not an integer');
    }
  }
}
