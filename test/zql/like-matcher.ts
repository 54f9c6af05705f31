/**
 * The client's LIKE semantics, written independently for the oracle: `%` matches any run of
 * characters, `_` exactly one, `\x` the character x literally; the match is anchored at both ends.
 * LIKE is case-sensitive, ILIKE case-insensitive.
 *
 * "Character" means one UTF-16 code unit, as in the client (a JS RegExp without the `u` flag), so
 * `_` matches half of '😀'. A pattern ending in a lone `\` is an error in the client; here too.
 * Line terminators are out of scope (the client's RegExp uses the `m` flag; the fuzzer's alphabet
 * has none).
 */
type PatternToken = {kind: 'any-run'} | {kind: 'one'} | {kind: 'unit'; unit: string};

export function likeMatches(value: string, pattern: string, caseInsensitive: boolean): boolean {
  const tokens = tokenize(pattern);
  const fold = caseInsensitive ? foldCase : (u: string) => u;
  return matchTokens(value, tokens, fold);
}

function tokenize(pattern: string): PatternToken[] {
  const tokens: PatternToken[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const unit = pattern[i]!;
    if (unit === '%') tokens.push({kind: 'any-run'});
    else if (unit === '_') tokens.push({kind: 'one'});
    else if (unit === '\\') {
      if (i === pattern.length - 1) {
        throw new Error('LIKE pattern must not end with escape character');
      }
      tokens.push({kind: 'unit', unit: pattern[++i]!});
    } else tokens.push({kind: 'unit', unit});
  }
  return tokens;
}

/** Case folding of one code unit the way a non-unicode case-insensitive RegExp compares them. */
function foldCase(unit: string): string {
  const upper = unit.toUpperCase();
  if (upper.length !== 1) return unit;
  if (unit.charCodeAt(0) >= 128 && upper.charCodeAt(0) < 128) return unit;
  return upper;
}

/** Wildcard matching with backtracking to the most recent `%` (linear in practice, O(n·m) worst). */
function matchTokens(value: string, tokens: PatternToken[], fold: (u: string) => string): boolean {
  let v = 0;
  let t = 0;
  let lastRunToken = -1;
  let lastRunValue = 0;
  while (v < value.length) {
    const token = tokens[t];
    if (token?.kind === 'any-run') {
      lastRunToken = t++;
      lastRunValue = v;
    } else if (
      token !== undefined &&
      (token.kind === 'one' || fold(token.unit) === fold(value[v]!))
    ) {
      t++;
      v++;
    } else if (lastRunToken >= 0) {
      t = lastRunToken + 1;
      v = ++lastRunValue;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'any-run') t++;
  return t === tokens.length;
}
