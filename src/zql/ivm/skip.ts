import {UnaryOperator} from './unary-operator.js';
import type {Bound} from '../../protocol/ast.js';
import type {Node, Row} from './data.js';
import {PAUSE, type Change, type FetchRequest, type Input} from './operator.js';

/** Skip (`start`): only rows after the bound row (or at/after it when not exclusive). */
export class Skip extends UnaryOperator {
  readonly #bound: {row: Row; exclusive: boolean};

  constructor(input: Input, bound: Bound) {
    super(input);
    this.#bound = {row: bound.row as Row, exclusive: bound.exclusive};
  }

  #inRange(row: Node['row']): boolean {
    const c = this.getSchema().compareRows(row, this.#bound.row);
    return this.#bound.exclusive ? c > 0 : c >= 0;
  }

  *fetch(req: FetchRequest): Iterable<Node> {
    if (req.reverse) {
      for (const node of this.input.fetch(req)) {
        if (node !== PAUSE && !this.#inRange(node.row)) return;
        yield node;
      }
      return;
    }
    const cmp = this.getSchema().compareRows;
    const start =
      !req.start ||
      cmp(req.start.row, this.#bound.row) < 0 ||
      (cmp(req.start.row, this.#bound.row) === 0 &&
        req.start.basis === 'at' &&
        this.#bound.exclusive)
        ? {
            row: this.#bound.row,
            basis: this.#bound.exclusive ? ('after' as const) : ('at' as const),
          }
        : req.start;
    yield* this.input.fetch({...req, start});
  }

  push(change: Change): void {
    if (this.#inRange(change.node.row)) this.output.push(change, this);
  }
}
