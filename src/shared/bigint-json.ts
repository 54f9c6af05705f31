/**
 * JSON that keeps integers beyond ±(2^53−1) exact: `stringify` writes bigints as integer literals and
 * `parse` returns integers that do not fit a double as bigints. Used for change-log entries, whose
 * int8 values must survive a round trip.
 */
export function stringifyBigIntJSON(v: unknown): string {
  // Fast path: plain JSON.stringify (no per-value replacer call) throws only on a bigint.
  try {
    return JSON.stringify(v);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
  const marks: string[] = [];
  const s = JSON.stringify(v, (_k, val) => {
    if (typeof val === 'bigint') {
      marks.push(val.toString());
      return `\u0000big${marks.length - 1}\u0000`;
    }
    return val;
  });
  if (marks.length === 0) return s;
  return s.replace(/"\\u0000big(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!);
}

export function parseBigIntJSON(text: string): unknown {
  if (!/\d{16,}/.test(text)) return JSON.parse(text);
  // JSON.parse with a reviver sees the source text only on Node 21+; so mark long integers first.
  const marked = text.replace(
    /("(?:[^"\\]|\\.)*")|(-?\d{16,})(?![.eE\d])/g,
    (m, str: string | undefined, num: string | undefined) =>
      str !== undefined ? m : `"\\u0000big${num}"`,
  );
  return JSON.parse(marked, (_k, val) => {
    if (typeof val === 'string' && val.startsWith('\u0000big')) {
      const b = BigInt(val.slice(4));
      return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER)
        ? Number(b)
        : b;
    }
    return val;
  });
}
