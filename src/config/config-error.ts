import {optionLabel, type ValueOption} from './option-spec.js';

/** Every problem found in one parse, one line each, so that a user can fix them in one go. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      `Invalid zero-cache configuration (${problems.length} problem` +
        `${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Where a value came from, as shown in messages: `--port`, `env`, `.env file`, `derived ...`. */
export type Origin = string;

/** What an option accepts, phrased to follow "expected". */
export function acceptedValues(spec: ValueOption): string {
  switch (spec.type) {
    case 'boolean':
      return 'true, false, 1 or 0';
    case 'enum':
      return `one of ${(spec.values ?? []).join(', ')}`;
    case 'number':
      return (spec.integer ? 'an integer' : 'a number') + rangeText(spec);
    case 'string[]':
      return 'a comma-separated list';
    case 'string':
      return 'a string';
  }
}

function rangeText({min, max}: ValueOption): string {
  if (min !== undefined && max !== undefined) {
    return ` from ${min} to ${max}`;
  }
  if (min !== undefined) {
    return ` of at least ${min}`;
  }
  return max === undefined ? '' : ` of at most ${max}`;
}

/** A value as it may appear in a message: secrets never, URL passwords masked. */
export function shownValue(spec: ValueOption, value: unknown): string {
  if (spec.secret) {
    return '(hidden)';
  }
  if (typeof value === 'number') {
    return String(value);
  }
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return JSON.stringify(maskPasswords(text));
}

function maskPasswords(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*:)[^@\s]*@/g, '$1***@').replace(/(password=)\S+/gi, '$1***');
}

export function badValueProblem(
  spec: ValueOption,
  value: unknown,
  origin: Origin,
  reason = 'is not accepted',
  expected = acceptedValues(spec),
): string {
  return `${optionLabel(spec)}: ${shownValue(spec, value)} (from ${origin}) ${reason}; expected ${expected}`;
}
