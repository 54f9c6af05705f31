/**
 * String comparison in UTF-8 byte order (= Unicode code point order), the order the reference uses
 * when normalizing ASTs (§2.4) and SQLite's BINARY collation (§8.6).
 *
 * JS's `<` compares UTF-16 code units, which disagrees with code point order only when one string
 * has a surrogate (U+D800–DFFF, i.e. a code point above U+FFFF) and the other a unit in
 * U+E000–FFFF at the same position. Strings with lone surrogates compare as their code units do
 * (UTF-8 encoders would replace those with U+FFFD; such strings do not occur in names).
 */

/** Negative if `a` sorts before `b` in UTF-8 byte order, positive if after, 0 if equal. */
export function compareUTF8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const unitA = a.charCodeAt(i);
    const unitB = b.charCodeAt(i);
    if (unitA !== unitB) {
      return codePointRank(unitA) - codePointRank(unitB);
    }
  }
  return a.length - b.length;
}

/**
 * Maps a UTF-16 code unit to a rank that orders like the code point it starts: surrogates (which
 * start code points ≥ U+10000) move above U+E000–FFFF.
 */
function codePointRank(unit: number): number {
  if (unit < 0xd800) {
    return unit;
  }
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}
