import {describe, expect, test} from 'vitest';
import type {AST} from './ast.js';
import {hashOfAST, hashOfNameAndArgs} from './query-hash.js';

describe('query ids (fact sheet §2.4 vectors)', () => {
  test('hashOfNameAndArgs', () => {
    expect(hashOfNameAndArgs('allIssues', [{}])).toBe('1z5r1py2921bv');
    expect(hashOfNameAndArgs('issueByID', [{id: 'x'}])).toBe('eljkumi6jsn7');
  });

  test('hashOfAST', () => {
    const ast: AST = {
      table: 'issue',
      where: {
        type: 'simple',
        op: '=',
        left: {type: 'column', name: 'id'},
        right: {type: 'literal', value: 'x'},
      },
      orderBy: [['id', 'asc']],
      limit: 10,
    };
    expect(hashOfAST(ast)).toBe('3lkhavg3tdx5j');
  });

  test('hashOfAST hashes the normalized form (root key order does not matter)', () => {
    const a: AST = {table: 't', limit: 1, alias: 'x'};
    const b: AST = {alias: 'x', limit: 1, table: 't'};
    expect(hashOfAST(a)).toBe(hashOfAST(b));
    expect(hashOfAST(a)).not.toBe(hashOfAST({table: 't', limit: 2, alias: 'x'}));
  });
});
