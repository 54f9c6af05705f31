import type {AST, Condition} from '../protocol/ast.js';
import {cachedStatement, type ReplicaDb} from '../replica/replica-file.js';

/**
 * Read permissions for legacy (client-ZQL) queries (fact sheet §8.4): every table level of the
 * query — root, `related` and EXISTS subqueries — gets `and(where, or(select rules))`; a table with
 * no rules (or no permissions deployed) yields no rows. Static parameters (`authData.*`) are bound
 * from the token's payload; a missing field is null. Custom and internal queries skip this.
 */
export interface PermissionRules {
  tables?: Record<string, {row?: {select?: [string, Condition][]}}>;
}

export function readPermissions(db: ReplicaDb, appID: string): PermissionRules | null {
  const row = cachedStatement(db, `SELECT "permissions" FROM "${appID}.permissions"`).get() as
    {permissions: string | null} | undefined;
  if (!row?.permissions) return null;
  return JSON.parse(row.permissions) as PermissionRules;
}

export function applyReadPermissions(
  ast: AST,
  rules: PermissionRules | null,
  authData: unknown,
): AST {
  const select = (rules?.tables?.[ast.table]?.row?.select ?? [])
    .filter(([kind]) => kind === 'allow')
    .map(([, cond]) => bindStatics(cond, authData));
  const allowed: Condition = {type: 'or', conditions: select};
  const where = ast.where
    ? {type: 'and' as const, conditions: [transformWhere(ast.where, rules, authData), allowed]}
    : allowed;
  return {
    ...ast,
    where,
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

function bindStatics(c: Condition, authData: unknown): Condition {
  switch (c.type) {
    case 'and':
    case 'or':
      return {...c, conditions: c.conditions.map((x) => bindStatics(x, authData))};
    case 'correlatedSubquery':
      return {
        ...c,
        related: {
          ...c.related,
          subquery: {
            ...c.related.subquery,
            where: c.related.subquery.where && bindStatics(c.related.subquery.where, authData),
          },
        },
      };
    case 'simple': {
      const bind = (v: typeof c.right | typeof c.left) =>
        v.type === 'static'
          ? {
              type: 'literal' as const,
              value: staticValue(v.anchor === 'authData' ? authData : undefined, v.field) as never,
            }
          : v;
      return {...c, left: bind(c.left), right: bind(c.right) as typeof c.right};
    }
  }
}

function staticValue(root: unknown, field: string | readonly string[]): unknown {
  let v = root;
  for (const k of typeof field === 'string' ? [field] : field) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[k];
  }
  return v ?? null;
}
