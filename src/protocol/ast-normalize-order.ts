/**
 * The orders used by AST normalization (§2.4), reproduced from the reference's observable
 * behaviour so that normalized JSON (and thus query ids) match byte for byte.
 */
import type {Condition, CorrelatedSubquery, ValuePosition} from './ast.js';
import {compareUTF8} from '../shared/compare-utf8.js';

/** Orders `related` entries by `subquery.alias` (UTF-8 order; a missing alias sorts as ''). */
export function compareRelatedByAlias(a: CorrelatedSubquery, b: CorrelatedSubquery): number {
  return compareUTF8(a.subquery.alias ?? '', b.subquery.alias ?? '');
}

/**
 * The comparator for the conditions of one and/or:
 * - simple conditions first, by left, then op, then right (see {@link compareValuePositions});
 * - then EXISTS conditions, by subquery alias, then op, then `flip`, then `scalar` (each
 *   absent < false < true; the tie-breaks are 1.x's, 0.25 kept such ties in input order);
 * - then and/or groups, by type ('and' < 'or'), then element by element, a prefix first.
 *
 * QUIRK kept on purpose: the reference answers "before" (-1) for an and/or compared with an EXISTS
 * condition as well as for the reverse, so this comparator is not antisymmetric for such pairs and
 * the result depends on the sort algorithm. Array.prototype.sort in V8 (what the reference runs on
 * as a server) given the same comparator gives the same order.
 */
export function compareConditions(a: Condition, b: Condition): number {
  if (a.type === 'simple') {
    if (b.type !== 'simple') {
      return -1;
    }
    return (
      compareValuePositions(a.left, b.left) ||
      compareUTF8(a.op, b.op) ||
      compareValuePositions(a.right, b.right)
    );
  }
  if (b.type === 'simple') {
    return 1;
  }
  if (a.type === 'correlatedSubquery') {
    if (b.type !== 'correlatedSubquery') {
      return -1;
    }
    return (
      compareRelatedByAlias(a.related, b.related) ||
      compareUTF8(a.op, b.op) ||
      compareFlag(a.flip, b.flip) ||
      compareFlag(a.scalar, b.scalar)
    );
  }
  if (b.type === 'correlatedSubquery') {
    return -1; // the quirk: see above
  }
  return compareGroups(a.type, a.conditions, b.type, b.conditions);
}

/** absent < false < true. */
function compareFlag(a: boolean | undefined, b: boolean | undefined): number {
  const rank = (flag: boolean | undefined) => (flag === undefined ? 0 : flag ? 2 : 1);
  return rank(a) - rank(b);
}

function compareGroups(
  typeA: string,
  conditionsA: readonly Condition[],
  typeB: string,
  conditionsB: readonly Condition[],
): number {
  const byType = compareUTF8(typeA, typeB);
  if (byType !== 0) {
    return byType;
  }
  const common = Math.min(conditionsA.length, conditionsB.length);
  for (let i = 0; i < common; i++) {
    const byElement = compareConditions(conditionsA[i]!, conditionsB[i]!);
    if (byElement !== 0) {
      return byElement;
    }
  }
  return conditionsA.length - conditionsB.length;
}

/**
 * Orders operands: by kind name first ('column' < 'literal' < 'static'); literals by `String(value)`
 * (so `1` and `'1'` tie, and arrays compare as their comma-joined text); columns by name.
 *
 * The reference throws when it has to compare two static parameters ("should be resolved before
 * normalization"); here they compare by anchor, then field path, so that hashing never throws.
 */
export function compareValuePositions(a: ValuePosition, b: ValuePosition): number {
  if (a.type !== b.type) {
    return compareUTF8(a.type, b.type);
  }
  switch (a.type) {
    case 'literal':
      return compareUTF8(String(a.value), String((b as typeof a).value));
    case 'column':
      return compareUTF8(a.name, (b as typeof a).name);
    case 'static': {
      const other = b as typeof a;
      return (
        compareUTF8(a.anchor, other.anchor) || compareUTF8(String(a.field), String(other.field))
      );
    }
  }
}
