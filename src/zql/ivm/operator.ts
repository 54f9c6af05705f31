import type {Comparator, Node, Ordering, Row, Value} from './data.js';

/**
 * The contract every IVM operator keeps.
 *
 * An operator is an Input (downstream pulls from it with `fetch`) and an Output of its own inputs
 * (upstream pushes changes into it). Changes are `add`, `remove` and `child` (a change inside a
 * node's relationship); sources turn an edit of a row into a remove then an add.
 *
 * Consistency: while a change is being pushed to an output, a `fetch` through that output returns
 * exactly the state the output has been told about *including* this change, and nothing later. Every
 * operator keeps this for its own outputs (e.g. Take updates its bound at the moment that makes it
 * true), and sources keep it per connection (a connection sees a source change once it has been
 * pushed to it).
 */
export interface FetchRequest {
  /** Only rows whose columns equal these values (a null value matches no row). */
  readonly constraint?: Readonly<Record<string, Value>> | undefined;
  /** Start at (`at`) or just after (`after`) this row's position in the ordering. */
  readonly start?: {readonly row: Row; readonly basis: 'at' | 'after'} | undefined;
  /** Fetch in reverse order (from the end, or backwards from `start`). */
  readonly reverse?: boolean | undefined;
  /** The caller takes PAUSE markers in the stream (see PAUSE). Not passed to nested fetches. */
  readonly pauses?: boolean | undefined;
}

/**
 * A marker that sources put in a fetch stream that asked for it (`pauses`), every few rows they
 * read, so that a time-sliced caller can stop between slices even while operators drop every row
 * (a filter that matches nothing would otherwise scan a whole table in one slice). Operators pass
 * it on as it is: they never count, compare, filter or decorate it.
 */
export const PAUSE: Node = Object.freeze({
  row: Object.freeze({}),
  relationships: Object.freeze({}),
}) as Node;

export type Change =
  | {readonly type: 'add'; readonly node: Node}
  | {readonly type: 'remove'; readonly node: Node}
  | {
      readonly type: 'child';
      readonly node: Node;
      readonly child: {readonly relationshipName: string; readonly change: Change};
    };

export interface SourceSchema {
  readonly tableName: string;
  readonly primaryKey: readonly string[];
  /** The complete ordering of this input's rows (ends with the primary key). */
  readonly sort: Ordering;
  readonly compareRows: Comparator;
  /** Schemas of the relationships that nodes of this input carry. */
  readonly relationships: Readonly<Record<string, SourceSchema>>;
  /** True for junction levels that the client flattens away (`hidden` subqueries). */
  readonly isHidden: boolean;
  /** True when this is the root of a subquery used only by an EXISTS condition. */
  readonly system?: 'permissions' | 'client' | 'test' | undefined;
}

export interface Output {
  push(change: Change, from: Input): void;
}

export interface Input {
  getSchema(): SourceSchema;
  fetch(req: FetchRequest): Iterable<Node>;
  setOutput(output: Output): void;
  /** Releases resources; an input is destroyed by the operator it outputs to. */
  destroy(): void;
}

/** Throws with context when an operator's contract is broken: a bug, never bad input. */
export function assertInvariant(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`zql invariant broken: ${what}`);
}

/** An output that drops everything, for inputs not yet connected. */
export const NO_OUTPUT: Output = {
  push() {
    throw new Error('zql invariant broken: push into an operator with no output');
  },
};
