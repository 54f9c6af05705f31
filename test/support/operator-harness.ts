import type {Ordering} from '../../src/zql/ivm/data.js';
import type {DataChange, Row as LiteRow} from '../../src/protocol/change-stream.js';
import type {Node} from '../../src/zql/ivm/data.js';
import type {Change, Input, Output} from '../../src/zql/ivm/operator.js';
import {ReplicaSources} from '../../src/zql/sqlite/replica-sources.js';
import {replicaFixture, type ColumnTypes, type ReplicaFixture} from './replica-fixture.js';

/**
 * Drives IVM operators by hand for contract tests: a real in-memory replica (written through the
 * ChangeApplier) with its ReplicaSources. `seed` writes rows before any pipeline exists; `commit`
 * writes one upstream transaction and advances the sources over it, so every operator connected
 * to them receives the resulting pushes.
 */
export interface OperatorWorld {
  f: ReplicaFixture;
  sources: ReplicaSources;
  seed(...changes: DataChange[]): void;
  commit(...changes: DataChange[]): void;
}

export function operatorWorld(
  tables: Record<string, {columns: ColumnTypes; primaryKey: string[]}>,
): OperatorWorld {
  const f = replicaFixture(tables);
  const sources = new ReplicaSources(f.db);
  let version = sources.headVersion();
  return {
    f,
    sources,
    seed(...changes) {
      f.tx(...changes);
      version = sources.headVersion();
    },
    commit(...changes) {
      f.tx(...changes);
      const gen = sources.advance(version);
      let r = gen.next();
      while (!r.done) r = gen.next();
      if (r.value.kind !== 'changes') throw new Error(`unexpected ${r.value.kind}`);
      version = r.value.to;
    },
  };
}

/** The tables most operator tests use: issues, their comments, and users owning issues. */
export const ISSUE_TABLES = {
  issue: {
    columns: {id: 'int4', ownerID: 'int4', title: 'text', open: 'bool', modified: 'int4'},
    primaryKey: ['id'],
  },
  comment: {columns: {id: 'int4', issueID: 'int4', body: 'text'}, primaryKey: ['id']},
  user: {columns: {id: 'int4', name: 'text'}, primaryKey: ['id']},
} satisfies Record<string, {columns: ColumnTypes; primaryKey: string[]}>;

/** An issue row as upstream sends it: open, unowned, title `t<id>`, modified `10 * id`. */
export function issueRow(id: number, over: LiteRow = {}): LiteRow {
  return {id, ownerID: null, title: `t${id}`, open: 1, modified: id * 10, ...over};
}

/**
 * An Output that records every push as a short string (`add 3`, `remove 3`,
 * `child 1 comments: add 100`) and runs `onPush` inside the push, where a fetch must show exactly
 * what downstream has been told.
 */
export class Recorder implements Output {
  readonly changes: Change[] = [];
  onPush: ((change: Change) => void) | undefined;

  constructor(input?: Input) {
    input?.setOutput(this);
  }

  push(change: Change): void {
    this.changes.push(change);
    this.onPush?.(change);
  }

  get log(): string[] {
    return this.changes.map(describe);
  }
}

export function describe(change: Change): string {
  const id = String(change.node.row.id);
  if (change.type !== 'child') return `${change.type} ${id}`;
  return `child ${id} ${change.child.relationshipName}: ${describe(change.child.change)}`;
}

/** The `id` column of each node, in order. */
export function ids(nodes: Iterable<Node>): unknown[] {
  return [...nodes].map((n) => n.row.id);
}

/** `id` of each row of a node's relationship, as fetched now. */
export function relIds(node: Node, relationship: string): unknown[] {
  const rel = node.relationships[relationship];
  if (!rel) throw new Error(`node ${String(node.row.id)} has no relationship ${relationship}`);
  return ids(rel());
}

/** Orderings the operator tests share (complete: they end with the primary key). */
export const BY_ID: Ordering = [['id', 'asc']];
export const BY_MODIFIED: Ordering = [
  ['modified', 'asc'],
  ['id', 'asc'],
];
