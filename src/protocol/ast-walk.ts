/**
 * Small pure traversals of an AST. "Every (sub)query" means the root, each `related` subquery and
 * each EXISTS subquery inside a `where`, at any depth.
 */
import type {AST, Condition, CorrelatedSubquery, CorrelatedSubqueryCondition} from './ast.js';

/**
 * Returns a copy of `ast` in which every (sub)query `q` is replaced by `fn(q')`, where `q'` is `q`
 * with its own subqueries already mapped (children first). `fn` must not change aliases or
 * correlations unless it means to. Key order of untouched objects is kept.
 */
export function mapASTNodes(ast: AST, fn: (node: AST) => AST): AST {
  const mapped: AST = {
    ...ast,
    ...(ast.where && {where: mapConditionSubqueries(ast.where, fn)}),
    ...(ast.related && {
      related: ast.related.map((r) => ({...r, subquery: mapASTNodes(r.subquery, fn)})),
    }),
  };
  return fn(mapped);
}

function mapConditionSubqueries(cond: Condition, fn: (node: AST) => AST): Condition {
  switch (cond.type) {
    case 'simple':
      return cond;
    case 'correlatedSubquery':
      return {
        ...cond,
        related: {...cond.related, subquery: mapASTNodes(cond.related.subquery, fn)},
      };
    case 'and':
    case 'or':
      return {...cond, conditions: cond.conditions.map((c) => mapConditionSubqueries(c, fn))};
  }
}

/**
 * Returns a copy of `ast` with every (sub)query's `table` replaced by `fn(table, schema)`.
 * Column names are not touched.
 */
export function mapASTTables(
  ast: AST,
  fn: (table: string, schema: string | undefined) => string,
): AST {
  return mapASTNodes(ast, (node) => ({...node, table: fn(node.table, node.schema)}));
}

/** Calls `visit` on every (sub)query, parents before children. */
export function forEachASTNode(ast: AST, visit: (node: AST) => void): void {
  visit(ast);
  if (ast.where) {
    for (const cond of conditionSubqueries(ast.where)) {
      forEachASTNode(cond.related.subquery, visit);
    }
  }
  for (const related of ast.related ?? []) {
    forEachASTNode(related.subquery, visit);
  }
}

/** Every table name referenced by the query, at any depth. */
export function tablesOf(ast: AST): Set<string> {
  const tables = new Set<string>();
  forEachASTNode(ast, (node) => tables.add(node.table));
  return tables;
}

/**
 * The EXISTS / NOT EXISTS conditions in a condition tree, in tree order. Only this tree's own:
 * conditions inside those subqueries' `where` are not included.
 */
export function conditionSubqueries(cond: Condition): CorrelatedSubqueryCondition[] {
  const found: CorrelatedSubqueryCondition[] = [];
  const collect = (c: Condition): void => {
    if (c.type === 'correlatedSubquery') {
      found.push(c);
    } else if (c.type === 'and' || c.type === 'or') {
      c.conditions.forEach(collect);
    }
  };
  collect(cond);
  return found;
}

/** All subqueries directly under `ast`: its `related` entries, then its `where`'s EXISTS ones. */
export function childSubqueries(ast: AST): CorrelatedSubquery[] {
  const fromWhere = ast.where ? conditionSubqueries(ast.where).map((c) => c.related) : [];
  return [...(ast.related ?? []), ...fromWhere];
}
