import type {AST, Condition} from '../protocol/ast.js';
import {allowConditions, type PermissionRules} from '../protocol/permission-rules.js';

/**
 * Read permissions for legacy (client-ZQL) queries (fact sheet §8.4): every table level of the
 * query — root, `related` and EXISTS subqueries — gets `and(where, or(select rules))`; a table with
 * no rules (or no permissions deployed) yields no rows. Static parameters (`authData.*`) are bound
 * from the token's payload; a missing field is null. Custom and internal queries skip this.
 */
export function applyReadPermissions(
  ast: AST,
  rules: PermissionRules | null,
  authData: unknown,
): AST {
  const allowed = allowConditions(rules?.tables?.[ast.table]?.row?.select, authData);
  const permission: Condition =
    allowed.length === 1 ? allowed[0]! : {type: 'or', conditions: allowed};
  // The permission's conditions come first and at the top level of one AND, where SQLite
  // evaluates them: rows the client may not read are dropped before its own conditions see them.
  const conditions = [
    permission,
    ...(ast.where ? [transformWhere(ast.where, rules, authData)] : []),
  ];
  return {
    ...ast,
    where: {
      type: 'and',
      conditions: conditions.flatMap((c) => (c.type === 'and' ? c.conditions : [c])),
    },
    related: ast.related?.map((r) => ({
      ...r,
      subquery: applyReadPermissions(r.subquery, rules, authData),
    })),
  };
}

function transformWhere(c: Condition, rules: PermissionRules | null, authData: unknown): Condition {
  switch (c.type) {
    case 'and':
    case 'or':
      return {...c, conditions: c.conditions.map((x) => transformWhere(x, rules, authData))};
    case 'correlatedSubquery':
      return {
        ...c,
        related: {
          ...c.related,
          subquery: applyReadPermissions(c.related.subquery, rules, authData),
        },
      };
    default:
      return c;
  }
}
