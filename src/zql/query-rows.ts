import {rowKeyString, type Node, type Row} from './ivm/data.js';
import {
  assertInvariant,
  PAUSE,
  type Change,
  type Input,
  type Output,
  type SourceSchema,
} from './ivm/operator.js';

/**
 * The rows a query needs on the client (fact sheet §2.10): every node of its result tree — root
 * rows, `related` rows (hidden junction rows included), and the EXISTS children the joins attach —
 * except subtrees of permission subqueries. Rows are ref-counted (a row can appear several times
 * in one tree); `takeChanges` reports, since the last call, which rows appeared or changed (`put`)
 * and which disappeared (`del`).
 */
export interface RowRef {
  table: string;
  /** Primary-key columns of the row. */
  key: Row;
}

export interface RowPatch {
  op: 'put' | 'del';
  table: string;
  key: Row;
  /** The full row (with `_0_version`) for a put. */
  row?: Row;
}

interface Ref {
  table: string;
  key: Row;
  row: Row;
  count: number;
}

export class QueryRows implements Output {
  readonly #input: Input;
  readonly #refs = new Map<string, Ref>();
  /** State at first touch since the last takeChanges: the row then (null: absent). */
  readonly #touched = new Map<string, {table: string; key: Row; before: Row | null}>();

  constructor(input: Input) {
    this.#input = input;
    input.setOutput(this);
  }

  get schema(): SourceSchema {
    return this.#input.getSchema();
  }

  /** Fetches the whole result; yields after each root node and each PAUSE, so the caller can stop. */
  *hydrate(): Generator<void> {
    const schema = this.schema;
    for (const node of this.#input.fetch({pauses: true})) {
      if (node !== PAUSE) this.#addTree(schema, node);
      yield;
    }
  }

  push(change: Change): void {
    this.#apply(this.schema, change);
  }

  #apply(schema: SourceSchema, change: Change): void {
    if (change.type === 'add') return this.#addTree(schema, change.node);
    if (change.type === 'remove') return this.#removeTree(schema, change.node);
    const rel = schema.relationships[change.child.relationshipName];
    assertInvariant(rel, `query rows: unknown relationship ${change.child.relationshipName}`);
    if (rel.system !== 'permissions') this.#apply(rel, change.child.change);
  }

  #addTree(schema: SourceSchema, node: Node): void {
    this.#ref(schema, node.row, +1);
    this.#forChildren(schema, node, (s, child) => this.#addTree(s, child));
  }

  #removeTree(schema: SourceSchema, node: Node): void {
    this.#ref(schema, node.row, -1);
    this.#forChildren(schema, node, (s, child) => this.#removeTree(s, child));
  }

  #forChildren(schema: SourceSchema, node: Node, visit: (s: SourceSchema, n: Node) => void): void {
    for (const [name, fetch] of Object.entries(node.relationships)) {
      const rel = schema.relationships[name];
      assertInvariant(rel, `query rows: unknown relationship ${name}`);
      if (rel.system === 'permissions') continue;
      for (const child of fetch()) visit(rel, child);
    }
  }

  #ref(schema: SourceSchema, row: Row, delta: 1 | -1): void {
    const id = `${schema.tableName}/${rowKeyString(row, schema.primaryKey)}`;
    const ref = this.#refs.get(id);
    if (!this.#touched.has(id)) {
      const key = Object.fromEntries(schema.primaryKey.map((k) => [k, row[k]]));
      this.#touched.set(id, {table: schema.tableName, key, before: ref ? ref.row : null});
    }
    if (delta === 1) {
      if (ref) {
        ref.count++;
        ref.row = row;
      } else {
        const key = Object.fromEntries(schema.primaryKey.map((k) => [k, row[k]]));
        this.#refs.set(id, {table: schema.tableName, key, row, count: 1});
      }
      return;
    }
    assertInvariant(ref && ref.count > 0, `query rows: ref count of ${id} would go negative`);
    if (--ref.count === 0) this.#refs.delete(id);
  }

  /** Rows that appeared, changed or disappeared since the last call. */
  takeChanges(): RowPatch[] {
    const patches: RowPatch[] = [];
    for (const [id, t] of this.#touched) {
      const now = this.#refs.get(id);
      if (now && (!t.before || !sameRow(t.before, now.row)))
        patches.push({op: 'put', table: t.table, key: t.key, row: now.row});
      else if (!now && t.before) patches.push({op: 'del', table: t.table, key: t.key});
    }
    this.#touched.clear();
    return patches;
  }

  /** Every row the query currently needs: `table/[key values]` → row. */
  rows(): Map<string, Row> {
    return new Map([...this.#refs].map(([id, r]) => [id, r.row]));
  }

  destroy(): void {
    this.#input.destroy();
  }
}

function sameRow(a: Row, b: Row): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}
