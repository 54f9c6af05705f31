/**
 * Turns valita's parse issues into one readable message that says WHERE (a JS-like path such as
 * `ast.where.conditions[1].op`) and WHAT was expected, e.g.
 * `Invalid AST at ast.where.conditions[1].op: expected one of "=", "!=", … but got "=="`.
 *
 * Generic over any valita schema, so other wire schemas in this folder can reuse it.
 */
import type * as v from '@badrap/valita';

export type ValitaIssue = v.Err['issues'][number];
type PathKey = string | number;

/** A value failed a strict schema. `path` locates the first problem; `issues` has all of them. */
export class ASTParseError extends Error {
  override readonly name = 'ASTParseError';

  constructor(
    message: string,
    /** Where the (first) problem is, e.g. `ast.related[0].subquery.alias`. */
    readonly path: string,
    readonly issues: readonly ValitaIssue[],
  ) {
    super(message);
  }

  /**
   * Builds the error from a failed `schema.try(input)`. `what` names the kind of value ("AST") and
   * `root` the name the path starts with ("ast").
   */
  static fromIssues(
    issues: readonly ValitaIssue[],
    input: unknown,
    what: string,
    root: string,
  ): ASTParseError {
    const first = deepestIssue(issues);
    if (first === undefined) {
      return new ASTParseError(`Invalid ${what}`, root, issues);
    }
    const path = formatPath(root, first.path);
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem(s))` : '';
    const detail = describeIssue(first, valueAt(input, first.path));
    return new ASTParseError(`Invalid ${what} at ${path}: ${detail}${more}`, path, issues);
  }
}

/** `root` + keys, with identifiers as `.key`, indexes as `[0]` and other keys as `["a b"]`. */
export function formatPath(root: string, keys: readonly PathKey[]): string {
  let out = root;
  for (const key of keys) {
    if (typeof key === 'number') {
      out += `[${key}]`;
    } else if (/^[A-Za-z_$][\w$]*$/.test(key)) {
      out += `.${key}`;
    } else {
      out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** For a union failure, the nested issue that got furthest (the most specific one). */
function deepestIssue(issues: readonly ValitaIssue[]): ValitaIssue | undefined {
  const first = issues[0];
  if (first?.code !== 'invalid_union' || first.issues.length === 0) {
    return first;
  }
  let best = deepestIssue([first.issues[0]!]);
  for (const candidate of first.issues.slice(1)) {
    const inner = deepestIssue([candidate]);
    if (inner && best && inner.path.length > best.path.length) {
      best = inner;
    }
  }
  return best ?? first;
}

function describeIssue(issue: ValitaIssue, got: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${listOf(issue.expected.map(String))} but got ${describeValue(got)}`;
    case 'invalid_literal':
      return `expected ${listOf(issue.expected.map((x) => JSON.stringify(x)))} but got ${describeValue(got)}`;
    case 'missing_value':
      return 'missing required property';
    case 'unrecognized_keys':
      return `unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_length':
      return `expected an array of ${lengthRange(issue.minLength, issue.maxLength)} element(s) but got ${describeValue(got)}`;
    case 'invalid_union':
      return `matches none of the allowed shapes; got ${describeValue(got)}`;
    case 'custom_error':
      return `${issue.message ?? 'invalid value'}; got ${describeValue(got)}`;
  }
}

function lengthRange(min: number, max: number | undefined): string {
  if (max === undefined) {
    return `at least ${min}`;
  }
  return min === max ? `exactly ${min}` : `${min} to ${max}`;
}

function listOf(options: readonly string[]): string {
  return options.length === 1 ? options[0]! : `one of ${options.join(', ')}`;
}

/** A short rendering of an offending value: scalars as JSON, containers by kind and size. */
export function describeValue(value: unknown): string {
  if (value === undefined) {
    return 'nothing';
  }
  if (Array.isArray(value)) {
    return `an array of length ${value.length}`;
  }
  if (value !== null && typeof value === 'object') {
    return 'an object';
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function valueAt(input: unknown, keys: readonly PathKey[]): unknown {
  let current = input;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<PathKey, unknown>)[key];
  }
  return current;
}
