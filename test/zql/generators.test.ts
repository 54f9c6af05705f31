import fc from 'fast-check';
import {describe, expect, test} from 'vitest';
import {parseAST, SIMPLE_OPERATORS, type AST, type Condition} from '../../src/protocol/ast.js';
import {isConsistent} from './case-minimizer.js';
import type {FuzzCase} from './fuzz-schema.js';
import {fuzzCaseArb} from './generators.js';

/**
 * The generator produces valid, consistent, JSON-safe cases and covers every feature the issue
 * lists (counted over a fixed sample, so a regression in coverage fails loudly).
 */
const sample = fc.sample(fuzzCaseArb, {numRuns: 400, seed: 20250101});

function features(c: FuzzCase, seen: Set<string>): void {
  const visitCondition = (cond: Condition): void => {
    if (cond.type === 'simple') {
      seen.add(`op ${cond.op}`);
      if (cond.right.type === 'literal' && cond.right.value === null) seen.add('null literal');
    } else if (cond.type === 'correlatedSubquery') {
      seen.add(cond.op);
      if (cond.related.subquery.limit === 0) seen.add(`${cond.op} limit 0`);
      if (cond.related.correlation.parentField.length > 1) seen.add('compound correlation');
      visitAst(cond.related.subquery, 1);
    } else {
      seen.add(cond.type);
      cond.conditions.forEach(visitCondition);
    }
  };
  const visitAst = (ast: AST, depth: number): void => {
    if (ast.where) visitCondition(ast.where);
    if (ast.limit !== undefined) seen.add('limit');
    if (ast.start) seen.add(`start ${ast.start.exclusive ? 'exclusive' : 'inclusive'}`);
    if ((ast.orderBy?.length ?? 0) === 2) seen.add('orderBy 2 columns');
    for (const sq of ast.related ?? []) {
      seen.add(`related depth ${depth + 1}`);
      if (sq.hidden) seen.add('hidden junction');
      visitAst(sq.subquery, depth + 1);
    }
  };
  visitAst(c.ast, 0);
  for (const t of c.schema.tables) if (t.primaryKey.length > 1) seen.add('composite key');
  for (const change of c.transactions.flat()) {
    const keyChange =
      change.op === 'update' &&
      Object.keys(change.oldKey).some((k) => change.oldKey[k] !== change.row[k]);
    seen.add(keyChange ? 'key-changing update' : `change ${change.op}`);
  }
  if (Object.values(c.data).some((rows) => rows.some((r) => Object.values(r).includes(null)))) {
    seen.add('null cell');
  }
}

describe('fuzz case generator', () => {
  test('ASTs are valid wire ASTs and cases survive JSON', () => {
    for (const c of sample) {
      expect(parseAST(JSON.parse(JSON.stringify(c.ast)))).toEqual(c.ast);
      expect(JSON.parse(JSON.stringify(c))).toEqual(c);
    }
  });

  test('change sequences are consistent and within bounds', () => {
    for (const c of sample) {
      expect(isConsistent(c)).toBe(true);
      const changes = c.transactions.flat().length;
      expect(changes).toBeGreaterThanOrEqual(0);
      expect(changes).toBeLessThanOrEqual(20);
      for (const tx of c.transactions) expect(tx.length).toBeGreaterThanOrEqual(1);
      for (const tx of c.transactions) expect(tx.length).toBeLessThanOrEqual(3);
      for (const rows of Object.values(c.data)) expect(rows.length).toBeLessThanOrEqual(30);
    }
  });

  test('covers every feature', () => {
    const seen = new Set<string>();
    for (const c of sample) features(c, seen);
    const expected = [
      ...SIMPLE_OPERATORS.map((op) => `op ${op}`),
      'null literal',
      'and',
      'or',
      'EXISTS',
      'NOT EXISTS',
      'EXISTS limit 0',
      'NOT EXISTS limit 0',
      'compound correlation',
      'limit',
      'start exclusive',
      'start inclusive',
      'orderBy 2 columns',
      'related depth 1',
      'related depth 2',
      'hidden junction',
      'composite key',
      'change insert',
      'change update',
      'change delete',
      'key-changing update',
      'null cell',
    ];
    expect(expected.filter((f) => !seen.has(f))).toEqual([]);
  });
});
