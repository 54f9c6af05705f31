import {compareUTF8} from '../../shared/compare-utf8.js';

/**
 * Values, rows and nodes as the IVM operators see them, and the one ordering every part of the
 * system (SQLite, the operators, the client) agrees on (fact sheet §8.6): null lowest, then
 * booleans (false < true), numbers numerically, strings by UTF-8 byte order. Queries that compare
 * a column with a value of another type are refused before they run (builder/query-checks.ts);
 * json values may still mix types, and are ordered by type.
 */
export type JSONValue = null | boolean | number | string | JSONValue[] | {[k: string]: JSONValue};
export type Value = JSONValue | undefined;
export type Row = Record<string, Value>;

/**
 * A row and its lazily fetched relationships (the result of `related` and EXISTS joins). Calling a
 * relationship fetches it anew: its contents reflect the state at the time of the call.
 */
export interface Node {
  row: Row;
  relationships: Record<string, () => Iterable<Node>>;
}

export type Direction = 'asc' | 'desc';
export type Ordering = readonly (readonly [string, Direction])[];
export type Comparator = (a: Row, b: Row) => number;

export function compareValues(a: Value, b: Value): number {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) return an && bn ? 0 : an ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') return compareUTF8(a, b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  return compareMixed(a, b);
}

const TYPE_RANK: Record<string, number> = {boolean: 1, number: 2, string: 3, object: 4};

/**
 * Values of different types (a json column's, or a row compared with a literal the query checks
 * did not type) are ordered by type, then json by its text. Never throws: an error raised here
 * would quote a row's value to a client that may not be allowed to read it (invariant 8).
 */
function compareMixed(a: JSONValue, b: JSONValue): number {
  const ra = TYPE_RANK[typeof a] ?? 5;
  const rb = TYPE_RANK[typeof b] ?? 5;
  if (ra !== rb) return ra - rb;
  return compareUTF8(JSON.stringify(a), JSON.stringify(b));
}

export function makeComparator(ordering: Ordering): Comparator {
  return (a, b) => {
    for (const [col, dir] of ordering) {
      const c = compareValues(a[col], b[col]);
      if (c !== 0) return dir === 'asc' ? c : -c;
    }
    return 0;
  };
}

export function valuesEqual(a: Value, b: Value): boolean {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) return an && bn;
  return a === b;
}

/** The key of a row as a string, for maps: the JSON of its values in key-column order. */
export function rowKeyString(row: Row, key: readonly string[]): string {
  return JSON.stringify(key.map((k) => row[k] ?? null));
}
