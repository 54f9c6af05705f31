import type {AST, Condition} from './ast.js';

/**
 * Bounds on the size of a query a client may ask for, checked before the query is stored or
 * built: every subquery becomes a join and every condition is evaluated per row, so an unbounded
 * AST is unbounded work (a query with 20,000 `related` subqueries, say). The message-size limit
 * bounds the bytes; these bound the shape. A problem is reported in terms of the AST's shape only.
 */
export interface AstLimits {
  /** Nesting of subqueries and of and/or/EXISTS conditions, counted together. */
  maxDepth: number;
  /** Conditions, subqueries and `related` entries in the whole query. */
  maxNodes: number;
  /** Values on the right of one IN / NOT IN. */
  maxInListLength: number;
}

export const DEFAULT_AST_LIMITS: AstLimits = {
  maxDepth: 32,
  maxNodes: 2000,
  maxInListLength: 10_000,
};

type Item = {kind: 'ast'; ast: AST; depth: number} | {kind: 'cond'; cond: Condition; depth: number};

/** The first limit `ast` exceeds, as a sentence for the client; null when it is within all. */
export function astLimitProblem(ast: AST, limits: AstLimits): string | null {
  const stack: Item[] = [{kind: 'ast', ast, depth: 1}];
  let nodes = 0;
  while (stack.length) {
    const item = stack.pop()!;
    if (++nodes > limits.maxNodes) {
      return `the query has more than ${limits.maxNodes} conditions and subqueries (ZCACHE_MAX_AST_NODES)`;
    }
    if (item.depth > limits.maxDepth) {
      return `the query nests subqueries and conditions deeper than ${limits.maxDepth} levels (ZCACHE_MAX_AST_DEPTH)`;
    }
    const depth = item.depth + 1;
    if (item.kind === 'ast') {
      if (item.ast.where) stack.push({kind: 'cond', cond: item.ast.where, depth});
      for (const r of item.ast.related ?? []) stack.push({kind: 'ast', ast: r.subquery, depth});
      continue;
    }
    const c = item.cond;
    if (c.type === 'and' || c.type === 'or') {
      for (const sub of c.conditions) stack.push({kind: 'cond', cond: sub, depth});
    } else if (c.type === 'correlatedSubquery') {
      stack.push({kind: 'ast', ast: c.related.subquery, depth});
    } else if (
      c.right.type === 'literal' &&
      Array.isArray(c.right.value) &&
      c.right.value.length > limits.maxInListLength
    ) {
      return `an ${c.op} list has more than ${limits.maxInListLength} values (ZCACHE_MAX_IN_LIST_LENGTH)`;
    }
  }
  return null;
}
