import {UnaryOperator} from './unary-operator.js';
import type {Condition} from '../../protocol/ast.js';
import type {Node} from './data.js';
import {assertInvariant, PAUSE, type Change, type FetchRequest, type Input} from './operator.js';
import {simplePredicate, type RowPredicate} from './predicate.js';
import {withRelationshipBefore} from './relationship-before.js';

/**
 * Filter: passes the nodes that satisfy a where clause — simple conditions, and/or, and EXISTS /
 * NOT EXISTS over relationships that joins below this filter attach (named by `relationshipOf`).
 *
 * A child change in a relationship the clause tests can flip the parent's result: the filter
 * compares the clause before and after the change and turns it into an add or remove of the
 * parent (a removed parent carries its relationship as it was before the change, so downstream
 * sees exactly the subtree it was told about).
 */
type Compiled =
  | {kind: 'row'; test: RowPredicate}
  | {kind: 'and' | 'or'; parts: Compiled[]}
  | {kind: 'exists'; relationship: string; negate: boolean}
  | {kind: 'const'; value: boolean};

export class Filter extends UnaryOperator {
  readonly #condition: Compiled;
  readonly #relationships = new Set<string>();

  constructor(input: Input, where: Condition, relationshipOf: (c: Condition) => string) {
    super(input);
    this.#condition = this.#compile(where, relationshipOf);
  }

  *fetch(req: FetchRequest): Iterable<Node> {
    for (const node of this.input.fetch(req)) if (node === PAUSE || this.#passes(node)) yield node;
  }

  push(change: Change): void {
    if (change.type !== 'child' || !this.#relationships.has(change.child.relationshipName)) {
      if (this.#passes(change.node)) this.output.push(change, this);
      return;
    }
    const {relationshipName, change: inner} = change.child;
    const after = this.#passes(change.node);
    const before =
      inner.type === 'child' ? after : this.#passes(change.node, relationshipName, inner.type);
    if (before && after) this.output.push(change, this);
    else if (after) this.output.push({type: 'add', node: change.node}, this);
    else if (before) {
      const node = withRelationshipBefore(
        change.node,
        relationshipName,
        inner,
        this.getSchema().relationships[relationshipName]!,
      );
      this.output.push({type: 'remove', node}, this);
    }
  }

  /** `undone` evaluates as if the last add/remove in `relationship` had not happened. */
  #passes(node: Node, relationship?: string, undone?: 'add' | 'remove'): boolean {
    const evaluate = (c: Compiled): boolean => {
      switch (c.kind) {
        case 'const':
          return c.value;
        case 'row':
          return c.test(node.row);
        case 'and':
          return c.parts.every(evaluate);
        case 'or':
          return c.parts.some(evaluate);
        case 'exists': {
          const nonEmpty =
            c.relationship === relationship
              ? nonEmptyBefore(node, relationship, undone!)
              : hasAny(node, c.relationship);
          return nonEmpty !== c.negate;
        }
      }
    };
    return evaluate(this.#condition);
  }

  #compile(c: Condition, relationshipOf: (c: Condition) => string): Compiled {
    switch (c.type) {
      case 'simple':
        return {kind: 'row', test: simplePredicate(c)};
      case 'and':
      case 'or':
        return {kind: c.type, parts: c.conditions.map((p) => this.#compile(p, relationshipOf))};
      case 'correlatedSubquery': {
        const negate = c.op === 'NOT EXISTS';
        if (c.related.subquery.limit === 0) return {kind: 'const', value: negate};
        const relationship = relationshipOf(c);
        assertInvariant(
          relationship in this.getSchema().relationships,
          `filter: no join for ${relationship}`,
        );
        this.#relationships.add(relationship);
        return {kind: 'exists', relationship, negate};
      }
    }
  }
}

function hasAny(node: Node, relationship: string): boolean {
  const rel = node.relationships[relationship];
  assertInvariant(rel, `filter: node lacks relationship ${relationship}`);
  for (const _ of rel()) return true;
  return false;
}

/** Whether the relationship was non-empty before an add / remove that it now reflects. */
function nonEmptyBefore(node: Node, relationship: string, undone: 'add' | 'remove'): boolean {
  if (undone === 'remove') return true;
  let n = 0;
  for (const _ of node.relationships[relationship]!()) if (++n >= 2) return true;
  return false;
}
