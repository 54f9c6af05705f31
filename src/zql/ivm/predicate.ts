import type {LiteralValue, SimpleCondition} from '../../protocol/ast.js';
import {compareValues, type Row, type Value} from './data.js';
import {likeMatcher} from './like-pattern.js';

/**
 * A simple condition (`column op literal`) as a JS predicate over rows, with the semantics of
 * fact sheet §8.6: every operator except IS / IS NOT is false when either side is null; IS and
 * IS NOT compare identity; IN / NOT IN test membership by strict equality.
 *
 * Static parameters must be bound (replaced by literals) before a pipeline is built.
 */
export type RowPredicate = (row: Row) => boolean;

export function simplePredicate(cond: SimpleCondition): RowPredicate {
  if (cond.left.type !== 'column') {
    throw new Error(`zql: the left side of a condition must be a column (got ${cond.left.type})`);
  }
  if (cond.right.type !== 'literal') {
    throw new Error('zql: unbound static parameter in a condition (bind it before building)');
  }
  const col = cond.left.name;
  const test = valuePredicate(cond.op, cond.right.value);
  return (row) => test(row[col]);
}

function isNull(v: Value | LiteralValue): v is null | undefined {
  return v === null || v === undefined;
}

function valuePredicate(op: SimpleCondition['op'], rhs: LiteralValue): (lhs: Value) => boolean {
  switch (op) {
    case 'IS':
      return (l) => (isNull(l) ? isNull(rhs) : l === rhs);
    case 'IS NOT':
      return (l) => (isNull(l) ? !isNull(rhs) : l !== rhs);
  }
  if (isNull(rhs)) return () => false;
  switch (op) {
    case '=':
      return (l) => !isNull(l) && l === rhs;
    case '!=':
      return (l) => !isNull(l) && l !== rhs;
    case '<':
      return (l) => !isNull(l) && compareValues(l, rhs as Value) < 0;
    case '>':
      return (l) => !isNull(l) && compareValues(l, rhs as Value) > 0;
    case '<=':
      return (l) => !isNull(l) && compareValues(l, rhs as Value) <= 0;
    case '>=':
      return (l) => !isNull(l) && compareValues(l, rhs as Value) >= 0;
    case 'IN':
    case 'NOT IN': {
      if (!Array.isArray(rhs)) throw new Error(`zql: ${op} needs an array on the right`);
      const set = new Set<unknown>(rhs);
      return op === 'IN' ? (l) => !isNull(l) && set.has(l) : (l) => !isNull(l) && !set.has(l);
    }
    case 'LIKE':
    case 'NOT LIKE':
    case 'ILIKE':
    case 'NOT ILIKE': {
      const match = likeMatcher(String(rhs), op.includes('ILIKE'));
      const negate = op.startsWith('NOT');
      // A non-string (a json column's number, say) matches neither LIKE nor NOT LIKE; throwing
      // would quote a row's value to the client.
      return (l) => typeof l === 'string' && match(l) !== negate;
    }
  }
  throw new Error(`zql: unknown operator ${op as string}`);
}
