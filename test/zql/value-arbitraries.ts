import fc from 'fast-check';
import type {FuzzColumn, FuzzTable, Row, Value} from './fuzz-schema.js';

/**
 * Values for the fuzzer, chosen to collide: small integer ranges so joins match and sort keys tie,
 * a small text alphabet with case variants, LIKE metacharacters, a backslash and multibyte
 * characters, and NULLs in nullable columns.
 *
 * The alphabet has no characters in U+E000–U+FFFF (where UTF-16 order, used by the client's `<`,
 * differs from UTF-8 order, used for sorting) and no line terminators (the client's LIKE RegExp
 * treats them specially). Case variants are limited to pairs on which every case-folding rule the
 * client uses agrees ('a'/'A', 'é'/'É').
 *
 * Column names follow the generator's conventions, which decide the value range:
 * `id` 0–30, mostly 0–8 (single-column key), `k1` 0–4 and `k2` short text (composite key), `fk*` 0–8
 * (foreign-key-like), `n` −2–6, `s` text, `b` bool, `r` real.
 */
export const TEXT_UNITS = ['a', 'A', 'b', 'B', 'é', 'É', '😀', '%', '_', '\\', ' '];
const PLAIN_TEXT_UNITS = ['a', 'A', 'b', 'B', 'é', 'É', '😀', ' '];

const TEXT_SAMPLES = [
  '',
  'a',
  'A',
  'b',
  'ab',
  'aB',
  'Ab',
  'AB',
  'é',
  'É',
  'éa',
  'Éa',
  '😀',
  'a😀',
  '😀b',
  '%',
  '_',
  '\\',
  'a%',
  'a_b',
  'a\\b',
  ' ',
  'a b',
];
const KEY_TEXT_SAMPLES = ['', 'a', 'A', 'b', 'é', '😀'];
const REAL_SAMPLES = [-1.5, 0, 0.5, 1, 2, 2.5, 1000000000.25];

const smallIdArb = fc.integer({min: 0, max: 8});

const textArb: fc.Arbitrary<string> = fc.oneof(
  {weight: 4, arbitrary: fc.constantFrom(...TEXT_SAMPLES)},
  {weight: 1, arbitrary: fc.string({unit: fc.constantFrom(...TEXT_UNITS), maxLength: 3})},
);

/** A non-null value of the column's domain. */
export function valueArb(column: FuzzColumn): fc.Arbitrary<Value> {
  switch (column.type) {
    case 'bool':
      return fc.boolean();
    case 'real':
      return fc.oneof(fc.constantFrom(...REAL_SAMPLES), fc.integer({min: -2, max: 6}));
    case 'text':
      return column.name === 'k2' ? fc.constantFrom(...KEY_TEXT_SAMPLES) : textArb;
    case 'int':
      // Ids mostly inside the foreign keys' range, so that joins match.
      if (column.name === 'id') return fc.oneof(smallIdArb, fc.integer({min: 0, max: 30}));
      if (column.name === 'k1') return fc.integer({min: 0, max: 4});
      if (column.name.startsWith('fk')) return fc.integer({min: 0, max: 8});
      return fc.integer({min: -2, max: 6});
  }
}

/** A value of the column, or NULL (about one in four) when the column is nullable. */
export function cellArb(column: FuzzColumn): fc.Arbitrary<Value> {
  const value = valueArb(column);
  return column.nullable ? fc.option(value, {nil: null, freq: 4}) : value;
}

export function rowArb(table: FuzzTable): fc.Arbitrary<Row> {
  const cells: Record<string, fc.Arbitrary<Value>> = {};
  for (const c of table.columns) cells[c.name] = cellArb(c);
  return fc.record(cells);
}

/** A LIKE pattern that never ends in a lone `\` (the client rejects those). */
export const likePatternArb: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      {weight: 2, arbitrary: fc.constant('%')},
      {weight: 1, arbitrary: fc.constant('_')},
      {weight: 4, arbitrary: fc.constantFrom(...PLAIN_TEXT_UNITS)},
      {weight: 1, arbitrary: fc.constantFrom(...TEXT_UNITS).map((u) => '\\' + u)},
    ),
    {maxLength: 4},
  )
  .map((tokens) => tokens.join(''));
