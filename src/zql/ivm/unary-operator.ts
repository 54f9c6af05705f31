import type {Node} from './data.js';
import {NO_OUTPUT, type Change, type FetchRequest, type Input, type Output} from './operator.js';

/**
 * The plumbing shared by operators with one input and one output (Filter, Skip, Take): it becomes
 * its input's output, keeps its input's schema, and destroys its input with itself. Subclasses
 * implement `fetch` and `push` and send changes on with `output.push(change, this)`.
 */
export abstract class UnaryOperator implements Input, Output {
  protected readonly input: Input;
  protected output: Output = NO_OUTPUT;

  constructor(input: Input) {
    this.input = input;
    input.setOutput(this);
  }

  getSchema() {
    return this.input.getSchema();
  }

  setOutput(output: Output): void {
    this.output = output;
  }

  destroy(): void {
    this.input.destroy();
  }

  abstract fetch(req: FetchRequest): Iterable<Node>;
  abstract push(change: Change): void;
}
