/**
 * Query ids (§2.4). The client picks a query's id and the server treats it as opaque, but it
 * computes the same hashes for its own bookkeeping (the transformation hash of a server-side AST)
 * and must agree with clients where they compare ids.
 */
import {h64} from '../shared/hash.js';
import type {AST} from './ast.js';
import {normalizeAST} from './ast-normalize.js';

/** The id of a legacy (AST) query: h64 of the JSON of the normalized AST. */
export function hashOfAST(ast: AST): string {
  return h64(JSON.stringify(normalizeAST(ast)));
}

/** The id of a custom (named) query: h64 of `name:` followed by the JSON of the argument array. */
export function hashOfNameAndArgs(name: string, args: readonly unknown[]): string {
  return h64(`${name}:${JSON.stringify(args)}`);
}
