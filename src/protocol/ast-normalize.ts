/**
 * Canonical forms of an AST.
 *
 * - {@link normalizeAST}: the form whose JSON is hashed into query ids (§2.4). It reproduces the
 *   reference's normalization exactly, quirks included, because ids must match byte for byte.
 *   It is for HASHING, not for running: it drops empty and/or groups, so `and(x, or())` (which
 *   matches nothing) becomes `x`.
 * - {@link completeOrdering}: appends missing primary-key columns to every `orderBy` (§8.6), which
 *   gives every (sub)query a total order.
 */
import {mapASTNodes} from './ast-walk.js';
import type {
  AST,
  Condition,
  CorrelatedSubquery,
  CorrelatedSubqueryCondition,
  Ordering,
  OrderPart,
} from './ast.js';
import {compareConditions, compareRelatedByAlias} from './ast-normalize-order.js';

/**
 * Returns the normalized copy of `ast` (the input is not changed):
 * - keys in the order `schema, table, alias, where, related, start, limit, orderBy` (absent ones
 *   omitted); `related` entries as `correlation{parentField, childField}, hidden, subquery, system`;
 * - `related` sorted by `subquery.alias` in UTF-8 order, each subquery normalized recursively;
 * - `where` flattened (see {@link flattenCondition}), then every and/or's conditions sorted by
 *   {@link compareConditions}, innermost first;
 * - simple conditions, `start` and EXISTS conditions keep the producer's key order.
 */
export function normalizeAST(ast: AST): AST {
  const where = ast.where === undefined ? undefined : flattenCondition(ast.where);
  return withoutUndefined({
    schema: ast.schema,
    table: ast.table,
    alias: ast.alias,
    where: where === undefined ? undefined : sortConditionTree(where),
    related: ast.related?.map(normalizeRelated).sort(compareRelatedByAlias),
    start: ast.start,
    limit: ast.limit,
    orderBy: ast.orderBy?.map(([column, direction]): OrderPart => [column, direction]),
  });
}

function normalizeRelated(related: CorrelatedSubquery): CorrelatedSubquery {
  const {parentField, childField} = related.correlation;
  return withoutUndefined({
    correlation: {parentField, childField},
    hidden: related.hidden,
    subquery: normalizeAST(related.subquery),
    system: related.system,
  });
}

/** Sorts the conditions of every and/or (children before parents); normalizes EXISTS subqueries. */
function sortConditionTree(cond: Condition): Condition {
  switch (cond.type) {
    case 'simple':
      return cond;
    case 'correlatedSubquery':
      return normalizeExistsCondition(cond);
    case 'and':
    case 'or':
      return {
        type: cond.type,
        conditions: cond.conditions.map(sortConditionTree).sort(compareConditions),
      };
  }
}

function normalizeExistsCondition(cond: CorrelatedSubqueryCondition): CorrelatedSubqueryCondition {
  const {related} = cond;
  const {parentField, childField} = related.correlation;
  return {
    ...cond,
    related: {
      ...related,
      correlation: {parentField, childField},
      subquery: normalizeAST(related.subquery),
    },
  };
}

/**
 * Flattens an and/or tree the way the reference does (one merge step per level, not a full
 * flatten): the children of a same-type child are lifted into the parent, each flattened on its
 * own; other children are flattened in place. Afterwards empty groups disappear (`undefined`) and
 * single-element groups are replaced by their element, whatever their type.
 *
 * So `and(and(and(a, b), c), d)` becomes `and(and(a, b), c, d)`, and `and(or(), x)` becomes `x`.
 */
export function flattenCondition(cond: Condition): Condition | undefined {
  if (cond.type === 'simple' || cond.type === 'correlatedSubquery') {
    return cond;
  }
  const conditions: Condition[] = [];
  for (const child of cond.conditions) {
    const lifted = child.type === cond.type ? child.conditions : [child];
    for (const element of lifted) {
      const flat = flattenCondition(element);
      if (flat !== undefined) {
        conditions.push(flat);
      }
    }
  }
  if (conditions.length <= 1) {
    return conditions[0];
  }
  return {type: cond.type, conditions};
}

/**
 * Returns `ast` with `orderBy` completed at the root and in every subquery (related and EXISTS):
 * the primary-key columns of the (sub)query's table that the ordering lacks are appended `asc`, in
 * primary-key order. Every (sub)query in the result has an `orderBy` (a new key goes last); other
 * keys keep their order. Throws if `primaryKeyOf` knows no primary key for a table.
 */
export function completeOrdering(
  ast: AST,
  primaryKeyOf: (table: string) => readonly string[],
): AST {
  return mapASTNodes(ast, (node) => {
    const primaryKey = primaryKeyOf(node.table) as readonly string[] | undefined;
    if (primaryKey === undefined) {
      throw new Error(`completeOrdering: no primary key known for table "${node.table}"`);
    }
    return {...node, orderBy: withPrimaryKey(node.orderBy ?? [], primaryKey)};
  });
}

function withPrimaryKey(orderBy: Ordering, primaryKey: readonly string[]): Ordering {
  const ordered = new Set(orderBy.map(([column]) => column));
  const missing = [...new Set(primaryKey)].filter((column) => !ordered.has(column));
  if (missing.length === 0) {
    return orderBy;
  }
  return [...orderBy, ...missing.map((column): OrderPart => [column, 'asc'])];
}

/** A copy of `obj` without the keys whose value is `undefined` (key order kept). */
function withoutUndefined<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value !== undefined) {
      out[key] = value;
    }
  }
  return out as T;
}
