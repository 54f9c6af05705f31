import type {Condition} from './ast.js';

/**
 * The permission rules an app deploys to `{app}.permissions` (fact sheet §8.4): per table, row
 * rules and per-column cell rules, each a list of `['allow', Condition]`. An empty or missing list
 * allows nothing. Conditions may compare with static parameters (`authData.*` from the token's
 * payload, `preMutationRow.*`), bound before they run.
 */
export type Policy = readonly (readonly ['allow', Condition])[];

export interface PermissionAsset {
  readonly select?: Policy;
  readonly insert?: Policy;
  readonly update?: {readonly preMutation?: Policy; readonly postMutation?: Policy};
  readonly delete?: Policy;
}

export interface PermissionRules {
  readonly tables?: Readonly<
    Record<
      string,
      {readonly row?: PermissionAsset; readonly cell?: Readonly<Record<string, PermissionAsset>>}
    >
  >;
}

/** The allow conditions of a policy with their static parameters bound. */
export function allowConditions(policy: Policy | undefined, authData: unknown): Condition[] {
  return (policy ?? [])
    .filter(([kind]) => kind === 'allow')
    .map(([, c]) => bindStatics(c, authData));
}

/**
 * Replaces every static parameter by a literal: `authData` fields from the token's payload (a path
 * for nested fields; missing → null); `preMutationRow` is always null, as in the reference.
 */
export function bindStatics(c: Condition, authData: unknown): Condition {
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
