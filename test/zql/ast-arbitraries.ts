import fc from 'fast-check';
import type {
  AST,
  Condition,
  Correlation,
  CorrelatedSubquery,
  CorrelatedSubqueryCondition,
  LiteralValue,
  Ordering,
  SimpleCondition,
  SimpleOperator,
} from '../../src/protocol/ast.js';
import type {FuzzColumn, FuzzSchema, FuzzTable, Value} from './fuzz-schema.js';
import {likePatternArb, valueArb} from './value-arbitraries.js';

/**
 * ASTs over one fuzz schema: where trees of depth ≤ 3 (and/or/simple/EXISTS/NOT EXISTS, every
 * operator, null literals), EXISTS nested ≤ 2 deep, `related` nested ≤ 2 levels (sometimes as a
 * hidden junction hop), orderBy on 0–2 columns, limit 0–5 or none. Correlations pair columns of
 * the same type (int or text). Arbitraries are memoized per (table, depth, budget): the recursion
 * is bounded by explicit depths, not by fast-check's size.
 */
export const ROOT_CONDITION_DEPTH = 3;
const SUBQUERY_CONDITION_DEPTH = 2;
export const ROOT_RELATED_DEPTH = 2;
export const ROOT_EXISTS_BUDGET = 2;

type Leaf = {op: SimpleOperator; value: Value | Value[]};

const orderOps = ['=', '!=', '<', '>', '<=', '>='] as const;

export class AstArbitraries {
  readonly #schema: FuzzSchema;
  readonly #memo = new Map<string, fc.Arbitrary<unknown>>();

  constructor(schema: FuzzSchema) {
    this.#schema = schema;
  }

  #memoized<T>(key: string, build: () => fc.Arbitrary<T>): fc.Arbitrary<T> {
    let arb = this.#memo.get(key) as fc.Arbitrary<T> | undefined;
    if (!arb) this.#memo.set(key, (arb = build()));
    return arb;
  }

  /** A query on `table`, without alias and start (the caller adds those). */
  query(
    table: FuzzTable,
    relatedDepth: number,
    existsBudget: number,
    conditionDepth = SUBQUERY_CONDITION_DEPTH,
  ): fc.Arbitrary<AST> {
    const key = `query:${table.name}:${relatedDepth}:${existsBudget}:${conditionDepth}`;
    return this.#memoized(key, () => {
      const related = relatedDepth > 0 ? this.related(table, relatedDepth) : null;
      return fc
        .record({
          orderBy: orderByArb(table),
          limit: fc.option(fc.integer({min: 0, max: 5}), {nil: undefined}),
          where: fc.option(this.condition(table, conditionDepth, existsBudget), {
            nil: undefined,
            freq: conditionDepth === ROOT_CONDITION_DEPTH ? 4 : 2,
          }),
          related: related
            ? fc.array(related, {maxLength: 2})
            : fc.constant<CorrelatedSubquery[]>([]),
        })
        .map(({orderBy, limit, where, related}) =>
          compactAst({
            table: table.name,
            orderBy: orderBy.length ? orderBy : undefined,
            limit,
            where,
            related: related.length
              ? related.map((r, i) => ({...r, subquery: {...r.subquery, alias: `r${i}`}}))
              : undefined,
          }),
        );
    });
  }

  condition(table: FuzzTable, depth: number, existsBudget: number): fc.Arbitrary<Condition> {
    return this.#memoized(`cond:${table.name}:${depth}:${existsBudget}`, () => {
      const exists = this.exists(table, existsBudget);
      const options: fc.WeightedArbitrary<Condition>[] = [
        {weight: 3, arbitrary: this.simple(table)},
      ];
      if (exists) options.push({weight: 4, arbitrary: exists});
      if (depth > 1) {
        const inner = this.condition(table, depth - 1, existsBudget);
        const list = fc.array(inner, {maxLength: 3});
        options.push({weight: 2, arbitrary: list.map((conditions) => ({type: 'and', conditions}))});
        options.push({weight: 2, arbitrary: list.map((conditions) => ({type: 'or', conditions}))});
      }
      return fc.oneof(...options);
    });
  }

  simple(table: FuzzTable): fc.Arbitrary<SimpleCondition> {
    return this.#memoized(`simple:${table.name}`, () =>
      fc.oneof(...table.columns.map((c) => simpleOnColumnArb(c))),
    );
  }

  exists(parent: FuzzTable, budget: number): fc.Arbitrary<CorrelatedSubqueryCondition> | null {
    if (budget <= 0) return null;
    const options = this.#schema.tables.flatMap((child) => {
      const correlation = correlationArb(parent, child);
      if (!correlation) return [];
      const arb = fc
        .record({
          correlation,
          op: fc.constantFrom('EXISTS' as const, 'NOT EXISTS' as const),
          where: fc.option(this.condition(child, SUBQUERY_CONDITION_DEPTH, budget - 1), {
            nil: undefined,
            freq: 2,
          }),
          orderBy: orderByArb(child),
          limit: fc.option(fc.integer({min: 0, max: 3}), {nil: undefined}),
          system: fc.constantFrom(undefined, 'client' as const),
        })
        .map(({correlation, op, where, orderBy, limit, system}): CorrelatedSubqueryCondition => ({
          type: 'correlatedSubquery',
          op,
          related: compactSubquery({
            correlation,
            system,
            subquery: compactAst({
              table: child.name,
              alias: `zsubq_${child.name}`,
              where,
              orderBy: orderBy.length ? orderBy : undefined,
              limit,
            }),
          }),
        }));
      return [arb];
    });
    return options.length ? fc.oneof(...options) : null;
  }

  /** A related subquery (alias `rel`, renamed by the caller); `depth` counts this level. */
  related(parent: FuzzTable, depth: number): fc.Arbitrary<CorrelatedSubquery> | null {
    const options: fc.WeightedArbitrary<CorrelatedSubquery>[] = [];
    for (const child of this.#schema.tables) {
      const correlation = correlationArb(parent, child);
      if (!correlation) continue;
      const arbitrary = fc
        .record({correlation, subquery: this.query(child, depth - 1, 1)})
        .map(({correlation, subquery}) => ({correlation, subquery: {...subquery, alias: 'rel'}}));
      options.push({weight: 3, arbitrary});
      if (depth >= 2) options.push(...this.#junctions(child, correlation, depth));
    }
    return options.length ? fc.oneof(...options) : null;
  }

  /** parent → junction (hidden) → target, as the client builds two-hop relationships. */
  #junctions(
    junction: FuzzTable,
    toJunction: fc.Arbitrary<Correlation>,
    depth: number,
  ): fc.WeightedArbitrary<CorrelatedSubquery>[] {
    return this.#schema.tables.flatMap((target) => {
      const toTarget = correlationArb(junction, target);
      if (!toTarget) return [];
      const arbitrary = fc
        .record({
          toJunction,
          toTarget,
          junctionOrder: orderByArb(junction),
          target: this.query(target, depth - 2, 1),
        })
        .map(({toJunction, toTarget, junctionOrder, target}) => ({
          correlation: toJunction,
          hidden: true,
          subquery: compactAst({
            table: junction.name,
            alias: 'rel',
            orderBy: junctionOrder.length ? junctionOrder : undefined,
            related: [{correlation: toTarget, subquery: {...target, alias: 'rel'}}],
          }),
        }));
      return [{weight: 1, arbitrary}];
    });
  }
}

function simpleOnColumnArb(column: FuzzColumn): fc.Arbitrary<SimpleCondition> {
  const value = valueArb(column);
  const leaves: fc.Arbitrary<Leaf>[] = [
    fc.record({
      op: fc.constantFrom<SimpleOperator>('IS', 'IS NOT'),
      value: fc.option(value, {nil: null, freq: 3}),
    }),
    fc.record({
      op: fc.constantFrom<SimpleOperator>(...orderOps),
      value: fc.option(value, {nil: null, freq: 8}),
    }),
    fc.record({
      op: fc.constantFrom<SimpleOperator>('IN', 'NOT IN'),
      value: fc.array(value, {maxLength: 3}),
    }),
  ];
  if (column.type === 'text') {
    leaves.push(
      fc.record({
        op: fc.constantFrom<SimpleOperator>('LIKE', 'NOT LIKE', 'ILIKE', 'NOT ILIKE'),
        value: fc.option(likePatternArb, {nil: null, freq: 10}),
      }),
    );
  }
  return fc.oneof(...leaves).map(({op, value}) => ({
    type: 'simple',
    op,
    left: {type: 'column', name: column.name},
    right: {type: 'literal', value: value as LiteralValue},
  }));
}

function orderByArb(table: FuzzTable): fc.Arbitrary<Ordering> {
  const names = table.columns.map((c) => c.name);
  const direction = fc.constantFrom('asc' as const, 'desc' as const);
  return fc
    .tuple(fc.shuffledSubarray(names, {maxLength: 2}), direction, direction)
    .map(([columns, first, second]) => columns.map((c, i) => [c, i === 0 ? first : second]));
}

/** Equality on 1–2 pairs of same-typed int/text columns, or null when the tables have none. */
export function correlationArb(
  parent: FuzzTable,
  child: FuzzTable,
): fc.Arbitrary<Correlation> | null {
  const joinable = (c: FuzzColumn) => c.type === 'int' || c.type === 'text';
  const pairs: [string, string][] = [];
  for (const p of parent.columns.filter(joinable)) {
    for (const c of child.columns.filter(joinable)) {
      if (p.type === c.type) pairs.push([p.name, c.name]);
    }
  }
  if (!pairs.length) return null;
  const toCorrelation = (chosen: [string, string][]): Correlation => ({
    parentField: chosen.map(([p]) => p) as unknown as Correlation['parentField'],
    childField: chosen.map(([, c]) => c) as unknown as Correlation['childField'],
  });
  const single = fc.constantFrom(...pairs).map((pair) => toCorrelation([pair]));
  const distinct = (a: [string, string], b: [string, string]) => a[0] !== b[0] && a[1] !== b[1];
  if (!pairs.some((a) => pairs.some((b) => distinct(a, b)))) return single;
  const double = fc
    .uniqueArray(fc.constantFrom(...pairs), {
      minLength: 2,
      maxLength: 2,
      comparator: (a, b) => !distinct(a, b),
    })
    .map(toCorrelation);
  return fc.oneof({weight: 3, arbitrary: single}, {weight: 1, arbitrary: double});
}

/** Drops undefined properties so ASTs serialize (and compare) without noise. */
function compactAst(ast: {[K in keyof AST]: AST[K] | undefined} & {table: string}): AST {
  return Object.fromEntries(Object.entries(ast).filter(([, v]) => v !== undefined)) as AST;
}

function compactSubquery(sq: CorrelatedSubquery): CorrelatedSubquery {
  return Object.fromEntries(
    Object.entries(sq).filter(([, v]) => v !== undefined),
  ) as CorrelatedSubquery;
}
