export type OptionType = 'string' | 'number' | 'boolean' | 'string[]' | 'enum';

export type OptionValue = string | number | boolean | readonly string[];

/** An option that sets one value of ZeroConfig. */
export interface ValueOption {
  /** Where the value lives in ZeroConfig: a top-level field (`port`) or `group.field`. */
  readonly key: string;
  /** The CLI flag without its leading `--`; the env name is derived from it (see envName). */
  readonly flag: string;
  readonly type: OptionType;
  /** The accepted values of an `enum` option. */
  readonly values?: readonly string[];
  readonly integer?: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly default?: OptionValue;
  /** A default computed from other options when unset, as shown by --help. */
  readonly derived?: string;
  /** The derived default can itself be unset (e.g. it copies an option that has no default). */
  readonly derivedMayBeUnset?: boolean;
  readonly help: string;
  readonly hidden?: boolean;
  /** Why the option is deprecated and what to use instead; deprecated options are hidden. */
  readonly deprecated?: string;
  /** Never echo the value in error messages. */
  readonly secret?: boolean;
  /** zcache's own option, read from `ZCACHE_*` rather than `ZERO_*`. */
  readonly zcacheOnly?: boolean;
}

/** A deprecated spelling that sets another option's value. */
export interface AliasOption {
  readonly flag: string;
  /** The flag of the ValueOption this spelling sets. */
  readonly aliasOf: string;
  readonly deprecated: string;
  /**
   * When both spellings come from the same source, the alias wins. zero-cache does this for
   * ZERO_PUSH_URL over ZERO_MUTATE_URL, and a drop-in must resolve the same config the same way.
   */
  readonly overridesTarget?: boolean;
}

/** An option zero-cache no longer accepts: setting it is an error that gives this advice. */
export interface RejectedOption {
  readonly flag: string;
  readonly rejected: string;
}

export type OptionSpec = ValueOption | AliasOption | RejectedOption;

export function isValueOption(spec: OptionSpec): spec is ValueOption {
  return 'key' in spec;
}

export function isAliasOption(spec: OptionSpec): spec is AliasOption {
  return 'aliasOf' in spec;
}

export function isRejectedOption(spec: OptionSpec): spec is RejectedOption {
  return 'rejected' in spec;
}

/** `ZERO_` (or `ZCACHE_` for zcache's own options) + the flag in SNAKE_CASE. */
export function envName(spec: OptionSpec): string {
  const prefix = isValueOption(spec) && spec.zcacheOnly ? 'ZCACHE_' : 'ZERO_';
  return prefix + spec.flag.replaceAll('-', '_').toUpperCase();
}

export function isHidden(spec: OptionSpec): boolean {
  if (!isValueOption(spec)) {
    return true;
  }
  return spec.hidden === true || spec.deprecated !== undefined;
}

/** How an option is named in messages: both of the ways a user can set it. */
export function optionLabel(spec: OptionSpec): string {
  return `${envName(spec)} (--${spec.flag})`;
}
