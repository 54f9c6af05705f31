import {rowKeyString, type Row} from '../ivm/data.js';

/**
 * What each connection of a source sees while an advancement pushes changes. SQL reads the replica
 * at the head version; rows changed since the pipelines' version are *pending* until pushed:
 *
 * - a pending row not yet pushed shows its old image (or is absent if it did not exist);
 * - the row being pushed, during its remove stage at connection i, is absent for connections ≤ i
 *   and old for the rest; during its add stage, new for connections ≤ i and absent for the rest;
 * - every other row is as SQL returns it (the head).
 *
 * So a connection sees a change exactly once it has been pushed to it (the operator contract).
 */
export interface RowChangeForPush {
  /** The row before the advancement (null: it did not exist). */
  old: Row | null;
  /** The row at the head (null: it no longer exists). */
  new: Row | null;
}

interface FetchShape {
  matches(row: Row): boolean;
  compare(a: Row, b: Row): number;
  reverse: boolean;
}

export class RowOverlay {
  readonly #key: readonly string[];
  /** Pending rows: key → image before the advancement (null: absent). */
  readonly #pending = new Map<string, Row | null>();
  #current:
    {key: string; change: RowChangeForPush; stage: 'remove' | 'add'; index: number} | undefined;

  constructor(key: readonly string[]) {
    this.#key = key;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Registers a row changed by the advancement, before anything is pushed. */
  addPending(change: RowChangeForPush): void {
    const row = change.old ?? change.new;
    this.#pending.set(rowKeyString(row!, this.#key), change.old);
  }

  /**
   * Shows `image` (null: absent) for the row with this key instead of the head, until `clear()`:
   * a simulated write, for checking write permissions against the state after a mutation.
   */
  substitute(keyRow: Row, image: Row | null): void {
    this.#pending.set(rowKeyString(keyRow, this.#key), image);
  }

  beginPush(change: RowChangeForPush): void {
    const key = rowKeyString((change.old ?? change.new)!, this.#key);
    this.#current = {key, change, stage: 'remove', index: -1};
  }

  stage(stage: 'remove' | 'add', index: number): void {
    this.#current!.stage = stage;
    this.#current!.index = index;
  }

  endPush(change: RowChangeForPush): void {
    this.#pending.delete(rowKeyString((change.old ?? change.new)!, this.#key));
    if (change.old && change.new) this.#pending.delete(rowKeyString(change.new, this.#key));
    this.#current = undefined;
  }

  clear(): void {
    this.#pending.clear();
    this.#current = undefined;
  }

  /** The visible image of a pending key for a connection: a row, null (absent), or 'head'. */
  #visible(key: string, index: number): Row | null | 'head' {
    const cur = this.#current;
    if (cur && cur.key === key) {
      if (cur.stage === 'remove') return index <= cur.index ? null : cur.change.old;
      return index <= cur.index ? 'head' : null;
    }
    return this.#pending.has(key) ? this.#pending.get(key)! : 'head';
  }

  /** Head rows (sorted) merged with what `index` must see instead. */
  *apply(head: Iterable<Row>, index: number, shape: FetchShape): Iterable<Row> {
    if (this.#pending.size === 0 && !this.#current) {
      yield* head;
      return;
    }
    const extra: Row[] = [];
    const keys = new Set(this.#pending.keys());
    if (this.#current) keys.add(this.#current.key);
    for (const key of keys) {
      const v = this.#visible(key, index);
      if (v && v !== 'head' && shape.matches(v)) extra.push(v);
    }
    const dir = shape.reverse ? -1 : 1;
    extra.sort((a, b) => dir * shape.compare(a, b));
    let i = 0;
    for (const row of head) {
      const key = rowKeyString(row, this.#key);
      if (keys.has(key) && this.#visible(key, index) !== 'head') continue;
      while (i < extra.length && dir * shape.compare(extra[i]!, row) < 0) yield extra[i++]!;
      yield row;
    }
    while (i < extra.length) yield extra[i++]!;
  }
}
