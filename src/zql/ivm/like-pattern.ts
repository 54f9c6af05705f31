/**
 * LIKE / ILIKE matching with the client's semantics, so that the server's result equals what the
 * client computes from the same rows. The client compiles a pattern to a RegExp `^…$` with the `m`
 * flag (and `i` for ILIKE): `%` any run, `_` one UTF-16 unit, neither crossing a line terminator,
 * `\x` the character x, and the match anchored at line boundaries. A pattern without wildcards or
 * escapes is a plain comparison.
 *
 * We do not use a RegExp: a backtracking engine takes exponential time on patterns such as
 * `%a%a%a%a%b` over long values, and every client is untrusted. The matcher below simulates the
 * pattern's automaton over the value, one pass, O(value length × pattern length) in the worst case,
 * with no backtracking.
 */
export const MAX_LIKE_PATTERN_LENGTH = 4096;

type Token = {kind: 'run'} | {kind: 'one'} | {kind: 'unit'; code: number};

export function likeMatcher(pattern: string, caseInsensitive: boolean): (value: string) => boolean {
  if (pattern.length > MAX_LIKE_PATTERN_LENGTH) {
    throw new Error(
      `zql: a LIKE pattern may have at most ${MAX_LIKE_PATTERN_LENGTH} characters ` +
        `(this one has ${pattern.length})`,
    );
  }
  if (!/[_%\\]/.test(pattern)) {
    if (!caseInsensitive) return (v) => v === pattern;
    const lower = pattern.toLowerCase();
    return (v) => v.toLowerCase() === lower;
  }
  const fold = caseInsensitive ? foldCase : (c: number) => c;
  const tokens = tokenize(pattern).map((t) =>
    t.kind === 'unit' ? {kind: 'unit' as const, code: fold(t.code)} : t,
  );
  return (v) => matchAutomaton(v, tokens, fold);
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '%') {
      // Adjacent runs match what one run matches; merging them keeps the automaton small.
      if (tokens.at(-1)?.kind !== 'run') tokens.push({kind: 'run'});
    } else if (c === '_') {
      tokens.push({kind: 'one'});
    } else if (c === '\\') {
      if (i === pattern.length - 1)
        throw new Error('zql: a LIKE pattern must not end with the escape character \\');
      tokens.push({kind: 'unit', code: pattern.charCodeAt(++i)});
    } else {
      tokens.push({kind: 'unit', code: pattern.charCodeAt(i)});
    }
  }
  return tokens;
}

/** The RegExp `m`-flag line terminators: `.` does not match them; `^` and `$` match beside them. */
function isLineTerminator(c: number): boolean {
  return c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
}

/** How a non-unicode case-insensitive RegExp compares one code unit (ECMA-262 Canonicalize). */
function foldCase(c: number): number {
  const upper = String.fromCharCode(c).toUpperCase();
  if (upper.length !== 1) return c;
  const u = upper.charCodeAt(0);
  return c >= 128 && u < 128 ? c : u;
}

/**
 * State k means "the first k tokens matched". Every line start may begin a match (state 0), and a
 * match may end at the value's end or before a line terminator.
 */
function matchAutomaton(value: string, tokens: Token[], fold: (c: number) => number): boolean {
  const m = tokens.length;
  let active = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  active[0] = 1;
  closeOverRuns(active, tokens);
  for (let p = 0; p < value.length; p++) {
    const c = value.charCodeAt(p);
    const terminator = isLineTerminator(c);
    if (terminator && active[m]) return true;
    const folded = fold(c);
    next.fill(0);
    let any = false;
    for (let k = 0; k < m; k++) {
      if (!active[k]) continue;
      const t = tokens[k]!;
      if (t.kind === 'run') {
        if (!terminator) next[k] = 1;
      } else if (t.kind === 'one' ? !terminator : t.code === folded) {
        next[k + 1] = 1;
      } else continue;
      any = true;
    }
    if (terminator) {
      next[0] = 1;
      any = true;
    }
    [active, next] = [next, active];
    if (!any) {
      // Nothing can match before the next line starts.
      const restart = nextLineTerminator(value, p + 1);
      if (restart < 0) return false;
      p = restart - 1;
      continue;
    }
    closeOverRuns(active, tokens);
  }
  return active[m] === 1;
}

function nextLineTerminator(value: string, from: number): number {
  for (let p = from; p < value.length; p++) if (isLineTerminator(value.charCodeAt(p))) return p;
  return -1;
}

/** A run matches the empty string too: being before it is also being after it. */
function closeOverRuns(states: Uint8Array, tokens: Token[]): void {
  for (let k = 0; k < tokens.length; k++)
    if (states[k] && tokens[k]!.kind === 'run') states[k + 1] = 1;
}
