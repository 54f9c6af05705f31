/**
 * The ZQL AST as it travels on the wire (fact sheet §8.1): legacy queries' `put` messages, the
 * API server's transform responses, permission rules and internal queries all use this shape.
 *
 * Names inside an AST are server names, except when a client hashes its own AST (§2.4). The types
 * are deeply readonly: every helper in this folder returns new objects and never mutates its input.
 *
 * Untrusted JSON becomes an `AST` only through {@link parseAST} (or {@link astSchema} embedded in a
 * message schema), which is strict: unknown keys anywhere are rejected, and the invariants the
 * engine relies on are checked (see the schema section below).
 */
import * as v from '@badrap/valita';
import {ASTParseError} from './ast-parse-error.js';

export {ASTParseError};

/** Subquery aliases starting with this prefix are reserved for `whereExists` (§8.2). */
export const SUBQUERY_ALIAS_PREFIX = 'zsubq_';

/** Who added a subquery: the app (`client`), a permission rule (`permissions`) or a test. */
export type System = 'permissions' | 'client' | 'test';

export type EqualityOperator = '=' | '!=' | 'IS' | 'IS NOT';
export type OrderOperator = '<' | '>' | '<=' | '>=';
export type LikeOperator = 'LIKE' | 'NOT LIKE' | 'ILIKE' | 'NOT ILIKE';
export type InOperator = 'IN' | 'NOT IN';
export type SimpleOperator = EqualityOperator | OrderOperator | LikeOperator | InOperator;

/** Every operator a simple condition may use, in the order the fact sheet lists them. */
export const SIMPLE_OPERATORS = [
  '=',
  '!=',
  'IS',
  'IS NOT',
  '<',
  '>',
  '<=',
  '>=',
  'LIKE',
  'NOT LIKE',
  'ILIKE',
  'NOT ILIKE',
  'IN',
  'NOT IN',
] as const satisfies readonly SimpleOperator[];

/** Operators whose right side must be a list of values (an array literal, or a static parameter). */
export const IN_OPERATORS: readonly SimpleOperator[] = ['IN', 'NOT IN'];

export type CorrelatedSubqueryOperator = 'EXISTS' | 'NOT EXISTS';

/** Any JSON value (what a `start` row may hold, e.g. a json column's value). */
export type JSONValue =
  null | boolean | number | string | readonly JSONValue[] | {readonly [key: string]: JSONValue};

/** A row as the AST carries it (in `start`): column name → value. */
export type BoundRow = {readonly [column: string]: JSONValue};

/** `start`: rows strictly after (`exclusive`) or at/after `row` in the query's ordering. */
export type Bound = {
  readonly row: BoundRow;
  readonly exclusive: boolean;
};

export type OrderDirection = 'asc' | 'desc';
export type OrderPart = readonly [column: string, direction: OrderDirection];
export type Ordering = readonly OrderPart[];

/** A literal's value: a scalar, or a list of non-null scalars (the right side of IN / NOT IN). */
export type LiteralValue =
  string | number | boolean | null | readonly (string | number | boolean)[];

export type LiteralReference = {
  readonly type: 'literal';
  readonly value: LiteralValue;
};

/** A column of the table the condition's (sub)query reads. */
export type ColumnReference = {
  readonly type: 'column';
  readonly name: string;
};

/**
 * A value bound when a pipeline is built (§8.3): from the JWT payload (`authData`) or the row as it
 * was before a mutation (`preMutationRow`). `field` is a key or a path of keys; missing ⇒ `null`.
 */
export type StaticParameter = {
  readonly type: 'static';
  readonly anchor: 'authData' | 'preMutationRow';
  readonly field: string | readonly string[];
};

export type ValuePosition = LiteralReference | ColumnReference | StaticParameter;

export type SimpleCondition = {
  readonly type: 'simple';
  readonly op: SimpleOperator;
  readonly left: ValuePosition;
  readonly right: LiteralReference | StaticParameter;
};

export type Conjunction = {
  readonly type: 'and';
  readonly conditions: readonly Condition[];
};

export type Disjunction = {
  readonly type: 'or';
  readonly conditions: readonly Condition[];
};

/**
 * EXISTS / NOT EXISTS over a correlated subquery; `flip` asks for a flipped join (v33+); `scalar`
 * (v49) says the subquery matches at most one row — a planner hint only, the results are plain
 * EXISTS's, and zcache evaluates it as such.
 */
export type CorrelatedSubqueryCondition = {
  readonly type: 'correlatedSubquery';
  readonly related: CorrelatedSubquery;
  readonly op: CorrelatedSubqueryOperator;
  readonly flip?: boolean | undefined;
  readonly scalar?: boolean | undefined;
};

export type Condition = SimpleCondition | Conjunction | Disjunction | CorrelatedSubqueryCondition;

/** A non-empty list of column names. */
export type CompoundKey = readonly [string, ...string[]];

/** Equality join: `parentField[i]` of the parent row = `childField[i]` of the child row. */
export type Correlation = {
  readonly parentField: CompoundKey;
  readonly childField: CompoundKey;
};

/**
 * A child query joined to its parent. `subquery.alias` is required (it names the relationship).
 * `hidden` hops (junction tables) are not part of the output view, but their children are.
 */
export type CorrelatedSubquery = {
  readonly correlation: Correlation;
  readonly subquery: AST;
  readonly system?: System | undefined;
  readonly hidden?: boolean | undefined;
};

/** A query (or subquery). `schema` is set for non-public tables; internal queries use `''`. */
export type AST = {
  readonly schema?: string | undefined;
  readonly table: string;
  readonly alias?: string | undefined;
  readonly where?: Condition | undefined;
  readonly related?: readonly CorrelatedSubquery[] | undefined;
  readonly start?: Bound | undefined;
  readonly limit?: number | undefined;
  readonly orderBy?: Ordering | undefined;
};

// ---------------------------------------------------------------------------------------------
// Strict schema. Beyond the shapes above it checks what the engine relies on:
//   - correlation parentField/childField are non-empty and of equal length;
//   - every correlated subquery (related or EXISTS) has `subquery.alias`;
//   - `limit` is a non-negative integer; `orderBy` entries are `[column, 'asc'|'desc']`;
//   - IN / NOT IN have an array literal (or a static parameter) on the right, and array literals
//     appear nowhere else.
// Objects are strict when parsed in valita's default mode (`strict`): unknown keys are errors.

/** Parses any AST (root or subquery). Recursive through `where` and `related`. */
export const astSchema: v.Type<AST> = v.lazy(() => astObjectSchema);

/** Parses any condition tree. */
export const conditionSchema: v.Type<Condition> = v.lazy(() =>
  v.union(
    simpleConditionSchema,
    conjunctionSchema,
    disjunctionSchema,
    correlatedSubqueryConditionSchema,
  ),
);

/**
 * Parses untrusted JSON into an AST, or throws an {@link ASTParseError} whose message names the
 * path of the problem (starting at `root`, default `ast`) and what was expected there. On success
 * the result IS `json` (valita does not copy), typed.
 */
export function parseAST(json: unknown, root = 'ast'): AST {
  const result = astSchema.try(json, {mode: 'strict'});
  if (!result.ok) {
    throw ASTParseError.fromIssues(result.issues, json, 'AST', root);
  }
  return result.value;
}

const jsonValueSchema: v.Type<JSONValue> = v.lazy(() =>
  v.union(
    v.null(),
    v.boolean(),
    v.number(),
    v.string(),
    v.array(jsonValueSchema),
    v.record(jsonValueSchema),
  ),
);

const boundSchema: v.Type<Bound> = v.object({
  row: v.record(jsonValueSchema),
  exclusive: v.boolean(),
});

const orderingSchema: v.Type<Ordering> = v.array(
  v.tuple([v.string(), v.union(v.literal('asc'), v.literal('desc'))]),
);

const limitSchema = v
  .number()
  .assert((n) => Number.isSafeInteger(n) && n >= 0, 'expected a non-negative integer');

const literalSchema: v.Type<LiteralReference> = v.object({
  type: v.literal('literal'),
  value: v.union(
    v.string(),
    v.number(),
    v.boolean(),
    v.null(),
    v.array(v.union(v.string(), v.number(), v.boolean())),
  ),
});

const columnSchema: v.Type<ColumnReference> = v.object({
  type: v.literal('column'),
  name: v.string(),
});

const staticParameterSchema: v.Type<StaticParameter> = v.object({
  type: v.literal('static'),
  anchor: v.union(v.literal('authData'), v.literal('preMutationRow')),
  field: v.union(v.string(), v.array(v.string())),
});

const simpleOperatorSchema: v.Type<SimpleOperator> = v.union(
  ...SIMPLE_OPERATORS.map((op) => v.literal(op)),
);

const simpleConditionSchema: v.Type<SimpleCondition> = v
  .object({
    type: v.literal('simple'),
    op: simpleOperatorSchema,
    left: v.union(literalSchema, columnSchema, staticParameterSchema),
    right: v.union(literalSchema, staticParameterSchema),
  })
  .chain(checkListOperands);

/** IN / NOT IN need a list on the right; a list anywhere else is an error. */
function checkListOperands(cond: SimpleCondition): v.ValitaResult<SimpleCondition> {
  const wantsList = IN_OPERATORS.includes(cond.op);
  const {left, right} = cond;
  if (left.type === 'literal' && Array.isArray(left.value)) {
    return v.err({
      message: 'an array literal is only allowed on the right of IN / NOT IN',
      path: ['left', 'value'],
    });
  }
  if (right.type === 'literal' && Array.isArray(right.value) !== wantsList) {
    const message = wantsList
      ? `operator ${cond.op} needs an array literal on the right`
      : `an array literal is only allowed with IN / NOT IN, not with ${cond.op}`;
    return v.err({message, path: ['right', 'value']});
  }
  return v.ok(cond);
}

const conjunctionSchema: v.Type<Conjunction> = v.object({
  type: v.literal('and'),
  conditions: v.array(conditionSchema),
});

const disjunctionSchema: v.Type<Disjunction> = v.object({
  type: v.literal('or'),
  conditions: v.array(conditionSchema),
});

const compoundKeySchema: v.Type<CompoundKey> = v.tuple([v.string()]).concat(v.array(v.string()));

const correlationSchema: v.Type<Correlation> = v
  .object({parentField: compoundKeySchema, childField: compoundKeySchema})
  .chain((correlation) => {
    const {parentField, childField} = correlation;
    if (parentField.length !== childField.length) {
      return v.err(
        `parentField has ${parentField.length} column(s) but childField has ${childField.length}`,
      );
    }
    return v.ok(correlation);
  });

const correlatedSubquerySchema: v.Type<CorrelatedSubquery> = v
  .object({
    correlation: correlationSchema,
    subquery: astSchema,
    system: v.union(v.literal('permissions'), v.literal('client'), v.literal('test')).optional(),
    hidden: v.boolean().optional(),
  })
  .chain((related) =>
    related.subquery.alias === undefined
      ? v.err({message: 'a subquery needs an alias', path: ['subquery', 'alias']})
      : v.ok(related),
  );

const correlatedSubqueryConditionSchema: v.Type<CorrelatedSubqueryCondition> = v.object({
  type: v.literal('correlatedSubquery'),
  related: correlatedSubquerySchema,
  op: v.union(v.literal('EXISTS'), v.literal('NOT EXISTS')),
  flip: v.boolean().optional(),
  scalar: v.boolean().optional(),
});

const astObjectSchema: v.Type<AST> = v.object({
  schema: v.string().optional(),
  table: v.string(),
  alias: v.string().optional(),
  where: conditionSchema.optional(),
  related: v.array(correlatedSubquerySchema).optional(),
  start: boundSchema.optional(),
  limit: limitSchema.optional(),
  orderBy: orderingSchema.optional(),
});
