import {readFileSync} from 'node:fs';
import {parse as parseDotenv} from 'dotenv';
import {acceptedValues, type Origin} from './config-error.js';
import {OPTION_BY_FLAG, OPTIONS} from './options.js';
import {
  envName,
  isAliasOption,
  isValueOption,
  optionLabel,
  type OptionSpec,
  type ValueOption,
} from './option-spec.js';

/** One option as one source spelled it, before conversion to the option's type. */
export interface RawSetting {
  /** The spelling used, which may be a deprecated alias or a rejected option. */
  readonly spec: OptionSpec;
  /** Every value given: one for env variables, one or more for a CLI flag. */
  readonly tokens: readonly string[];
  readonly origin: Origin;
}

/** A source's settings by the flag of the spelling used. */
export type SourceSettings = ReadonlyMap<string, RawSetting>;

export const HELP_FLAGS: ReadonlySet<string> = new Set(['--help', '-h']);

/** The option whose value a spelling sets; undefined for rejected options. */
export function targetOf(spec: OptionSpec): ValueOption | undefined {
  if (isValueOption(spec)) {
    return spec;
  }
  if (isAliasOption(spec)) {
    const target = OPTION_BY_FLAG.get(spec.aliasOf);
    return target && isValueOption(target) ? target : undefined;
  }
  return undefined;
}

/** Reads variables named like options; empty values count as unset, as in zero-cache. */
export function readEnvSettings(
  env: Readonly<Record<string, string | undefined>>,
  where: string,
): SourceSettings {
  const settings = new Map<string, RawSetting>();
  for (const spec of OPTIONS) {
    const name = envName(spec);
    const value = env[name];
    if (value !== undefined && value !== '') {
      settings.set(spec.flag, {spec, tokens: [value], origin: `${name} in ${where}`});
    }
  }
  return settings;
}

/** The variables of a .env file without touching process.env; a missing file has none. */
export function readEnvFile(path: string, problems: string[]): Record<string, string> {
  try {
    return parseDotenv(readFileSync(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      problems.push(`cannot read the env file ${path}: ${String(e)}`);
    }
    return {};
  }
}

/**
 * Reads `--flag value`, `--flag=value`, a bare boolean `--flag` (true), and array flags followed by
 * several values or repeated. A value starting with `--` is never taken as a value.
 */
export function readArgvSettings(argv: readonly string[], problems: string[]): SourceSettings {
  const settings = new Map<string, RawSetting>();
  let i = 0;
  while (i < argv.length) {
    const token = argv[i++] as string;
    if (HELP_FLAGS.has(token)) {
      continue;
    }
    if (!token.startsWith('--')) {
      problems.push(`unexpected argument "${token}"; expected options given as --flag value`);
      continue;
    }
    const [flag, inlineValue] = splitInlineValue(token.slice(2));
    const spec = OPTION_BY_FLAG.get(flag);
    if (spec === undefined) {
      problems.push(`unknown option --${flag}; expected one of the options listed by --help`);
      i += inlineValue === undefined ? takeValues(undefined, argv, i).length : 0;
      continue;
    }
    const taken = inlineValue === undefined ? takeValues(spec, argv, i) : [inlineValue];
    i += inlineValue === undefined ? taken.length : 0;
    const tokens = valueTokens(spec, taken, problems);
    if (tokens !== undefined) {
      const earlier = targetOf(spec)?.type === 'string[]' ? settings.get(flag)?.tokens : undefined;
      const origin = `--${flag} on the command line`;
      settings.set(flag, {spec, tokens: [...(earlier ?? []), ...tokens], origin});
    }
  }
  return settings;
}

function splitInlineValue(text: string): [string, string | undefined] {
  const eq = text.indexOf('=');
  return eq < 0 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)];
}

/** An unknown flag (no spec) takes every value up to the next flag, so they are not reported too. */
function takeValues(spec: OptionSpec | undefined, argv: readonly string[], from: number): string[] {
  const isValue = (token: string | undefined): token is string =>
    token !== undefined && !token.startsWith('--');
  if (spec !== undefined && targetOf(spec)?.type !== 'string[]') {
    const next = argv[from];
    return isValue(next) ? [next] : [];
  }
  const values: string[] = [];
  while (isValue(argv[from + values.length])) {
    values.push(argv[from + values.length] as string);
  }
  return values;
}

function valueTokens(
  spec: OptionSpec,
  taken: readonly string[],
  problems: string[],
): readonly string[] | undefined {
  if (taken.length > 0) {
    return taken;
  }
  const target = targetOf(spec);
  if (target?.type === 'boolean') {
    return ['true'];
  }
  const expected = target ? acceptedValues(target) : 'a value';
  problems.push(`${optionLabel(spec)}: no value given to --${spec.flag}; expected ${expected}`);
  return undefined;
}
