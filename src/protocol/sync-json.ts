/**
 * A valita schema for "any JSON value" (query args, mutation args, row values). Values that came
 * out of `JSON.parse` always pass; the check exists for callers that hand over other JS values
 * (e.g. `undefined`, functions, class instances, non-finite numbers).
 *
 * The walk is iterative, so deeply nested input cannot overflow the stack, and JSON objects are
 * open records: their keys are data, not a schema, so "strict" does not apply inside them.
 */
import * as v from '@badrap/valita';
import type {JSONValue} from './ast.js';

export type {JSONValue};

/** A row as a message carries it: column name → JSON value. */
export type JSONRow = {readonly [column: string]: JSONValue};

export const jsonValueSchema: v.Type<JSONValue> = v.unknown().chain((value) => {
  const badPath = findNonJSON(value);
  return badPath === undefined
    ? v.ok(value as JSONValue)
    : v.err({message: 'not a JSON value', path: badPath});
});

/** A JSON object whose values are JSON (a row, a record of column values). */
export const jsonRowSchema: v.Type<JSONRow> = v.record(jsonValueSchema);

type PathKey = string | number;

/** A value still to be checked, with how it was reached (the path is only built on failure). */
type Pending = {value: unknown; key: PathKey; parent: Pending | undefined};

/** The path of the first non-JSON part of `root`, or undefined if it is all JSON. */
function findNonJSON(root: unknown): PathKey[] | undefined {
  const stack: Pending[] = [{value: root, key: '', parent: undefined}];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const {value} = item;
    if (isJSONScalar(value)) {
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((element, i) => stack.push({value: element, key: i, parent: item}));
    } else if (isPlainObject(value)) {
      for (const key of Object.keys(value)) {
        stack.push({value: value[key], key, parent: item});
      }
    } else {
      return pathOf(item);
    }
  }
  return undefined;
}

function pathOf(item: Pending): PathKey[] {
  const path: PathKey[] = [];
  for (let at: Pending | undefined = item; at?.parent !== undefined; at = at.parent) {
    path.unshift(at.key);
  }
  return path;
}

function isJSONScalar(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    default:
      return value === null;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') {
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
