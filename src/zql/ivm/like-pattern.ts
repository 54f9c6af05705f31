/**
 * LIKE / ILIKE matching with the client's semantics, so that the server's result equals what the
 * client computes from the same rows: `%` any run, `_` one UTF-16 unit, `\x` the character x,
 * anchored at line boundaries (the client's RegExp uses the `m` flag), `.` not crossing newlines;
 * ILIKE lowercases both sides. A pattern without wildcards or escapes is a plain comparison.
 */
const REGEXP_SPECIALS = /[$()*+.?[\]\\^{|}]/;

export function likeMatcher(pattern: string, caseInsensitive: boolean): (value: string) => boolean {
  if (!/[_%\\]/.test(pattern)) {
    if (!caseInsensitive) return (v) => v === pattern;
    const lower = pattern.toLowerCase();
    return (v) => v.toLowerCase() === lower;
  }
  const re = new RegExp(likeToRegExpSource(pattern), caseInsensitive ? 'im' : 'm');
  return (v) => re.test(v);
}

function likeToRegExpSource(pattern: string): string {
  let out = '^';
  for (let i = 0; i < pattern.length; i++) {
    let c = pattern[i]!;
    if (c === '%') {
      out += '.*';
      continue;
    }
    if (c === '_') {
      out += '.';
      continue;
    }
    if (c === '\\') {
      if (i === pattern.length - 1)
        throw new Error('zql: a LIKE pattern must not end with the escape character \\');
      c = pattern[++i]!;
    }
    out += REGEXP_SPECIALS.test(c) ? '\\' + c : c;
  }
  return out + '$';
}
