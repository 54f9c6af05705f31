/**
 * Checks our AST code against the real code of both client generations: each client's query
 * builder (its ASTs must parse, and our ids must equal the client's), and, on random ASTs, the
 * newest reference's (1.9.0's) normalizeAST, hashOfAST and completeOrdering (loaded from the
 * published package's files, test-only). 1.9 only added tie-breaks (EXISTS conditions on the same
 * alias and op, by flip then scalar) where 0.25 kept the input order.
 */
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import fc from 'fast-check';
import {beforeAll, describe, expect, test} from 'vitest';
import * as zero025 from '@rocicorp/zero';
import * as zero19 from 'zero-1.9';
import {
  parseAST,
  type AST,
  type Condition,
  type CorrelatedSubquery,
} from '../../src/protocol/ast.js';
import {completeOrdering, normalizeAST} from '../../src/protocol/ast-normalize.js';
import {hashOfAST} from '../../src/protocol/query-hash.js';

type Reference = {
  normalizeAST(ast: AST): AST;
  hashOfAST(ast: AST): string;
  completeOrdering(ast: AST, pk: (table: string) => readonly string[]): AST;
};
let reference025: Reference;
/** The newest generation's code, which zcache's normalization follows. */
let reference: Reference;

async function loadReference(packageDir: string): Promise<Reference> {
  const out = path.resolve('node_modules', packageDir, 'out');
  const load = (file: string) => import(pathToFileURL(path.join(out, file)).href);
  const [ast, hash, ordering] = await Promise.all([
    load('zero-protocol/src/ast.js'),
    load('zero-protocol/src/query-hash.js'),
    load('zql/src/query/complete-ordering.js'),
  ]);
  return {...ast, ...hash, ...ordering} as Reference;
}

beforeAll(async () => {
  reference025 = await loadReference('@rocicorp/zero');
  reference = await loadReference('zero-1.9');
});

type ZeroPackage = typeof zero025 | typeof zero19;

function clientBuilder(zero: ZeroPackage) {
  const {boolean, createBuilder, createSchema, number, relationships, string, table} =
    zero as typeof zero025;
  const issue = table('issue')
    .columns({id: string(), title: string(), open: boolean(), created: number(), ownerID: string()})
    .primaryKey('id');
  const comment = table('comment')
    .columns({id: string(), issueID: string(), body: string(), created: number()})
    .primaryKey('id');
  const label = table('label').columns({id: string(), name: string()}).primaryKey('id');
  const issueLabel = table('issueLabel')
    .columns({issueID: string(), labelID: string()})
    .primaryKey('issueID', 'labelID');
  const issueRelationships = relationships(issue, ({many}) => ({
    comments: many({sourceField: ['id'], destSchema: comment, destField: ['issueID']}),
    labels: many(
      {sourceField: ['id'], destSchema: issueLabel, destField: ['issueID']},
      {sourceField: ['labelID'], destSchema: label, destField: ['id']},
    ),
  }));
  const schema = createSchema({
    tables: [issue, comment, label, issueLabel],
    relationships: [issueRelationships],
  });
  return createBuilder(schema);
}

/** What a QueryImpl exposes (internal API in 0.25.9: `ast` getter and `hash()`). */
type QueryInternals = {readonly ast: AST; hash(): string};

describe.each([
  {version: '0.25.9', zero: zero025 as ZeroPackage, ref: () => reference025},
  {version: '1.9.0', zero: zero19 as ZeroPackage, ref: () => reference},
])('against the real $version client', ({zero, ref}) => {
  test('its ASTs parse unchanged and hash to the same ids', () => {
    const zql = clientBuilder(zero);
    const queries = [
      zql.issue,
      zql.issue.where('id', 'x').one(),
      zql.issue
        .where('open', true)
        .where(({or, cmp, and, exists, not}) =>
          or(
            and(cmp('title', 'LIKE', '%x%'), cmp('created', '>', 5)),
            exists('comments', (c) => c.where('body', 'ILIKE', '%bug%')),
            not(exists('labels')),
            cmp('ownerID', 'IN', ['u1', 'u2']),
          ),
        )
        .whereExists('labels', (l) => l.where('name', 'bug'))
        .related('comments', (c) => c.orderBy('created', 'desc').limit(3))
        .related('labels')
        .orderBy('created', 'desc')
        .start({id: 'i9', created: 7})
        .limit(50),
    ];
    for (const query of queries) {
      const internals = query as unknown as QueryInternals;
      const parsed = parseAST(JSON.parse(JSON.stringify(internals.ast)));
      expect(hashOfAST(parsed)).toBe(internals.hash());
      // What the client puts on the wire (its normalized AST) parses too. Normalizing it again is
      // NOT a no-op (the reference's order of and/or vs EXISTS depends on the input order), but
      // we agree with the reference on it as well.
      const normalized = parseAST(JSON.parse(JSON.stringify(normalizeAST(parsed))));
      expect(JSON.stringify(normalizeAST(normalized))).toBe(
        JSON.stringify(ref().normalizeAST(normalized)),
      );
    }
  });
});

describe('against the reference implementation, on random ASTs', () => {
  test('normalizeAST and hashOfAST agree', () => {
    fc.assert(
      fc.property(astArbitrary(), (ast) => {
        expect(JSON.stringify(normalizeAST(ast))).toBe(JSON.stringify(reference.normalizeAST(ast)));
        expect(hashOfAST(ast)).toBe(reference.hashOfAST(ast));
      }),
      {numRuns: 500},
    );
  });

  test('completeOrdering agrees', () => {
    fc.assert(
      fc.property(astArbitrary(), (ast) => {
        expect(JSON.stringify(completeOrdering(ast, primaryKeyOf))).toBe(
          JSON.stringify(reference.completeOrdering(ast, primaryKeyOf)),
        );
      }),
      {numRuns: 300},
    );
  });

  test('every generated AST passes parseAST', () => {
    fc.assert(
      fc.property(astArbitrary(), (ast) => {
        expect(parseAST(ast)).toEqual(ast);
      }),
    );
  });
});

// ---- random ASTs ------------------------------------------------------------------------------

const TABLES = ['t', 'u', 'v'];
const PRIMARY_KEYS: Record<string, string[]> = {t: ['id'], u: ['a', 'b'], v: ['b', 'id']};
function primaryKeyOf(tableName: string): string[] {
  return PRIMARY_KEYS[tableName]!;
}

/** Names that stress UTF-8 ordering (upper before lower, BMP private use vs astral). */
const nameArbitrary = fc.constantFrom('a', 'b', 'B', 'id', 'é', '\uff21', '😀', 'zsubq_a');
const scalarArbitrary = fc.oneof(
  fc.string({maxLength: 3}),
  fc.integer({min: -20, max: 20}),
  fc.double({noNaN: true, noDefaultInfinity: true}),
  fc.boolean(),
);

/** Rebuilds `obj` with its keys in an order picked by `seed` (producers differ in key order). */
function reorderKeys<T extends object>(obj: T, seed: number): T {
  const entries = Object.entries(obj);
  const rotated = [
    ...entries.slice(seed % (entries.length || 1)),
    ...entries.slice(0, seed % (entries.length || 1)),
  ];
  return Object.fromEntries(seed % 2 ? rotated.reverse() : rotated) as T;
}

const simpleArbitrary: fc.Arbitrary<Condition> = fc
  .tuple(
    fc.oneof(
      nameArbitrary.map((name) => ({type: 'column' as const, name})),
      scalarArbitrary.map((value) => ({type: 'literal' as const, value})),
    ),
    fc.oneof(
      fc.tuple(
        fc.constantFrom('=', '!=', '<', '>=', 'LIKE', 'IS' as const),
        fc.oneof(scalarArbitrary, fc.constant(null)),
      ),
      fc.tuple(fc.constantFrom('IN', 'NOT IN' as const), fc.array(scalarArbitrary, {maxLength: 3})),
    ),
    fc.nat(),
  )
  .map(([left, [op, value], seed]) =>
    reorderKeys({type: 'simple', left, right: {type: 'literal', value}, op} as Condition, seed),
  );

function astArbitrary(): fc.Arbitrary<AST> {
  const {ast} = fc.letrec<{condition: Condition; related: CorrelatedSubquery; ast: AST}>((tie) => ({
    condition: fc.oneof(
      {maxDepth: 3, depthIdentifier: 'ast'},
      simpleArbitrary,
      fc.record(
        {
          type: fc.constant('correlatedSubquery' as const),
          related: tie('related'),
          op: fc.constantFrom('EXISTS', 'NOT EXISTS' as const),
          flip: fc.boolean(),
          scalar: fc.boolean(),
        },
        {requiredKeys: ['type', 'related', 'op']},
      ),
      fc.record({
        type: fc.constantFrom('and', 'or' as const),
        conditions: fc.array(tie('condition'), {maxLength: 4, depthIdentifier: 'ast'}),
      }),
    ),
    related: fc
      .tuple(fc.constantFrom(...TABLES), nameArbitrary, tie('ast'), fc.boolean(), fc.nat())
      .map(([tableName, alias, subquery, hidden, seed]) =>
        reorderKeys(
          {
            system: 'client' as const,
            correlation: {parentField: ['id'], childField: ['pid']},
            subquery: {...subquery, table: tableName, alias},
            ...(hidden ? {hidden} : {}),
          } as CorrelatedSubquery,
          seed,
        ),
      ),
    ast: fc
      .record(
        {
          table: fc.constantFrom(...TABLES),
          alias: nameArbitrary,
          where: tie('condition'),
          related: fc.array(tie('related'), {maxLength: 3, depthIdentifier: 'ast'}),
          limit: fc.nat({max: 100}),
          orderBy: fc.array(fc.tuple(nameArbitrary, fc.constantFrom('asc', 'desc' as const)), {
            maxLength: 2,
          }),
          start: fc.record({
            row: fc.dictionary(nameArbitrary, scalarArbitrary),
            exclusive: fc.boolean(),
          }),
        },
        {requiredKeys: ['table']},
      )
      .chain((ast) => fc.nat().map((seed) => reorderKeys(ast as AST, seed))),
  }));
  return ast;
}
