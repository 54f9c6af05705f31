import {UnaryOperator} from './unary-operator.js';
import {rowKeyString, type Node, type Row, type Value} from './data.js';
import {assertInvariant, PAUSE, type Change, type FetchRequest, type Input} from './operator.js';

/**
 * Take (`limit`): the first `limit` rows in order — per partition (the rows sharing the values of
 * `partitionKey`, i.e. per parent for a subquery), or overall.
 *
 * State per partition: how many rows it holds (≤ limit) and the last one (the bound). A partition
 * gets its state when first fetched; pushes for a partition nobody has fetched are dropped (no one
 * downstream knows its rows). Pushes keep the operator contract: each add/remove sent downstream is
 * consistent with what a fetch returns at that moment.
 */
interface PartitionState {
  size: number;
  bound: Row | undefined;
}

export class Take extends UnaryOperator {
  readonly #limit: number;
  readonly #partitionKey: readonly string[];
  readonly #state = new Map<string, PartitionState>();

  constructor(input: Input, limit: number, partitionKey: readonly string[] = []) {
    super(input);
    assertInvariant(Number.isInteger(limit) && limit >= 0, `take: limit ${limit}`);
    this.#limit = limit;
    this.#partitionKey = partitionKey;
  }

  *fetch(req: FetchRequest): Iterable<Node> {
    if (this.#limit === 0) return;
    const cmp = this.getSchema().compareRows;
    const constrainsPartition = this.#partitionKey.every(
      (k) => req.constraint && k in req.constraint,
    );
    if (constrainsPartition) this.#ensureState(req.constraint ?? {});
    for (const node of this.input.fetch(req)) {
      if (node === PAUSE) {
        yield node;
        continue;
      }
      const state = this.#state.get(this.#partitionOf(node.row));
      if (!state?.bound || cmp(node.row, state.bound) > 0) {
        // Past the bound: nothing further forward can be in range (partition-constrained fetch).
        if (constrainsPartition && !req.reverse) return;
        continue;
      }
      yield node;
    }
  }

  push(change: Change): void {
    if (this.#limit === 0) return;
    const key = this.#partitionOf(change.node.row);
    const state = this.#state.get(key);
    if (!state) return;
    if (change.type === 'add') this.#pushAdd(change.node, state);
    else if (change.type === 'remove') this.#pushRemove(change.node, state);
    else if (state.bound && this.getSchema().compareRows(change.node.row, state.bound) <= 0) {
      this.output.push(change, this);
    }
  }

  #pushAdd(node: Node, state: PartitionState): void {
    const cmp = this.getSchema().compareRows;
    if (state.size < this.#limit) {
      state.size++;
      if (!state.bound || cmp(node.row, state.bound) > 0) state.bound = node.row;
      this.output.push({type: 'add', node}, this);
      return;
    }
    const oldBound = state.bound!;
    if (cmp(node.row, oldBound) > 0) return;
    // Tell downstream about the new row first (bound unchanged: fetch shows limit + 1 rows), then
    // drop the old bound.
    this.output.push({type: 'add', node}, this);
    const constraint = this.#partitionConstraint(node.row);
    const evicted = first(this.input.fetch({constraint, start: {row: oldBound, basis: 'at'}}));
    const newBound = first(
      this.input.fetch({constraint, start: {row: oldBound, basis: 'after'}, reverse: true}),
    );
    assertInvariant(evicted && newBound, 'take: a full partition lost its bound rows');
    state.bound = newBound.row;
    this.output.push({type: 'remove', node: evicted}, this);
  }

  #pushRemove(node: Node, state: PartitionState): void {
    const cmp = this.getSchema().compareRows;
    if (!state.bound || cmp(node.row, state.bound) > 0) return;
    const oldBound = state.bound;
    this.output.push({type: 'remove', node}, this);
    const constraint = this.#partitionConstraint(node.row);
    const replacement = first(
      this.input.fetch({constraint, start: {row: oldBound, basis: 'after'}}),
    );
    if (replacement) {
      state.bound = replacement.row;
      this.output.push({type: 'add', node: replacement}, this);
      return;
    }
    state.size--;
    assertInvariant(state.size >= 0, 'take: partition size went negative');
    state.bound =
      state.size === 0
        ? undefined
        : first(this.input.fetch({constraint, start: {row: oldBound, basis: 'at'}, reverse: true}))
            ?.row;
  }

  #ensureState(constraint: Readonly<Record<string, Value>>): void {
    const key = rowKeyString(constraint as Row, this.#partitionKey);
    if (this.#state.has(key)) return;
    const partition = this.#partitionKey.length
      ? this.#partitionConstraint(constraint as Row)
      : undefined;
    let size = 0;
    let bound: Row | undefined;
    for (const node of this.input.fetch({constraint: partition})) {
      bound = node.row;
      if (++size === this.#limit) break;
    }
    this.#state.set(key, {size, bound});
  }

  #partitionOf(row: Row): string {
    return rowKeyString(row, this.#partitionKey);
  }

  #partitionConstraint(row: Row): Record<string, Value> | undefined {
    if (this.#partitionKey.length === 0) return undefined;
    return Object.fromEntries(this.#partitionKey.map((k) => [k, row[k]]));
  }
}

function first<T>(it: Iterable<T>): T | undefined {
  for (const x of it) return x;
  return undefined;
}
