import fc from 'fast-check';
import type {AST, Bound} from '../../src/protocol/ast.js';
import {
  AstArbitraries,
  ROOT_CONDITION_DEPTH,
  ROOT_EXISTS_BUDGET,
  ROOT_RELATED_DEPTH,
} from './ast-arbitraries.js';
import {resolveTransactions, transactionIntentsArb} from './change-arbitraries.js';
import type {FuzzCase, FuzzSchema, FuzzTable, Row, TableData} from './fuzz-schema.js';
import {dataArb, schemaArb} from './schema-arbitraries.js';
import {rowArb} from './value-arbitraries.js';

/**
 * The fast-check arbitrary of whole differential cases: a schema, then (depending on it) initial
 * data, a root query and change transactions. See schema-/value-/ast-/change-arbitraries.ts for
 * what each part covers.
 */
export {schemaArb, dataArb} from './schema-arbitraries.js';
export {AstArbitraries} from './ast-arbitraries.js';
export {transactionIntentsArb, resolveTransactions} from './change-arbitraries.js';

/** `start` before it meets the data: a row of the table picked by index, or `fallback`. */
interface StartIntent {
  pick: number;
  exclusive: boolean;
  fallback: Row;
}

function startIntentArb(table: FuzzTable): fc.Arbitrary<StartIntent | undefined> {
  return fc.oneof(
    {weight: 4, arbitrary: fc.constant(undefined)},
    {
      weight: 1,
      arbitrary: fc.record({
        pick: fc.nat({max: 1000}),
        exclusive: fc.boolean(),
        fallback: rowArb(table),
      }),
    },
  );
}

function resolveStart(rows: Row[], intent: StartIntent | undefined): Bound | undefined {
  if (!intent) return undefined;
  // Mostly an existing row (so the bound sits inside the data); sometimes one that is not there.
  const index = intent.pick % (rows.length + 1);
  const row = index < rows.length ? rows[index]! : intent.fallback;
  return {row: {...row}, exclusive: intent.exclusive};
}

export function rootQueryArb(
  schema: FuzzSchema,
): fc.Arbitrary<{ast: AST; start: StartIntent | undefined}> {
  const asts = new AstArbitraries(schema);
  return fc.oneof(
    ...schema.tables.map((t) =>
      fc.record({
        ast: asts.query(t, ROOT_RELATED_DEPTH, ROOT_EXISTS_BUDGET, ROOT_CONDITION_DEPTH),
        start: startIntentArb(t),
      }),
    ),
  );
}

function assembleCase(
  schema: FuzzSchema,
  data: TableData,
  root: {ast: AST; start: StartIntent | undefined},
  transactions: FuzzCase['transactions'],
): FuzzCase {
  const start = resolveStart(data[root.ast.table] ?? [], root.start);
  const ast = start ? {...root.ast, start} : root.ast;
  return {schema, data, ast, transactions};
}

export const fuzzCaseArb: fc.Arbitrary<FuzzCase> = schemaArb.chain((schema) =>
  fc
    .record({
      data: dataArb(schema),
      root: rootQueryArb(schema),
      intents: transactionIntentsArb(schema),
    })
    .map(({data, root, intents}) =>
      assembleCase(schema, data, root, resolveTransactions(schema, data, intents)),
    ),
);
