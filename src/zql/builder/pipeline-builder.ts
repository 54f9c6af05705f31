import type {AST, Condition, CorrelatedSubqueryCondition} from '../../protocol/ast.js';
import {completeOrdering} from '../../protocol/ast-normalize.js';
import type {Ordering} from '../ivm/data.js';
import {Filter} from '../ivm/filter.js';
import {Join} from '../ivm/join.js';
import type {Input} from '../ivm/operator.js';
import {Skip} from '../ivm/skip.js';
import {Take} from '../ivm/take.js';
import {pushableConditions} from '../sqlite/filter-sql.js';
import type {TableSource} from '../sqlite/table-source.js';

/**
 * Builds the operator pipeline of a query (ARCHITECTURE "IVM in one paragraph"):
 * source (ordering, pushed-down filters) → Skip (start) → Join per EXISTS condition (child limit
 * forced to 3, 1 for permission rules) → Filter (where) → Take (limit, per parent in subqueries) →
 * Join per `related` subquery. Orderings are completed with the primary key first.
 */
export interface SourceProvider {
  getSource(table: string): TableSource;
}

const EXISTS_CHILD_LIMIT = 3;
const PERMISSIONS_CHILD_LIMIT = 1;

export function buildPipeline(ast: AST, sources: SourceProvider): Input {
  const complete = completeOrdering(ast, (t) => sources.getSource(t).primaryKey);
  return build(complete, sources, []);
}

function build(ast: AST, sources: SourceProvider, partitionKey: readonly string[]): Input {
  const source = sources.getSource(ast.table);
  let input: Input = source.connect(ast.orderBy as Ordering, pushableConditions(ast.where));
  if (ast.start) input = new Skip(input, ast.start);

  const relationshipNames = new Map<Condition, string>();
  if (ast.where) {
    for (const [i, cond] of existsConditions(ast.where).entries()) {
      const sq = cond.related.subquery;
      if (sq.limit === 0) continue; // decided without a join (EXISTS false, NOT EXISTS true)
      const name = `${sq.alias ?? sq.table}_${i}`;
      relationshipNames.set(cond, name);
      const limit =
        cond.related.system === 'permissions' ? PERMISSIONS_CHILD_LIMIT : EXISTS_CHILD_LIMIT;
      input = new Join({
        parent: input,
        child: build({...sq, limit}, sources, cond.related.correlation.childField),
        parentKey: cond.related.correlation.parentField,
        childKey: cond.related.correlation.childField,
        relationshipName: name,
        hidden: false,
        system: cond.related.system ?? 'client',
      });
    }
    input = new Filter(input, ast.where, (c) => relationshipNames.get(c)!);
  }
  if (ast.limit !== undefined) input = new Take(input, ast.limit, partitionKey);
  for (const rel of ast.related ?? []) {
    const alias = rel.subquery.alias;
    if (!alias) throw new Error(`zql: related subquery on ${rel.subquery.table} has no alias`);
    input = new Join({
      parent: input,
      child: build(rel.subquery, sources, rel.correlation.childField),
      parentKey: rel.correlation.parentField,
      childKey: rel.correlation.childField,
      relationshipName: alias,
      hidden: rel.hidden ?? false,
      system: rel.system,
    });
  }
  return input;
}

/** EXISTS / NOT EXISTS conditions anywhere in a where tree, in a stable order. */
function existsConditions(c: Condition): CorrelatedSubqueryCondition[] {
  if (c.type === 'correlatedSubquery') return [c];
  if (c.type === 'and' || c.type === 'or') return c.conditions.flatMap(existsConditions);
  return [];
}
