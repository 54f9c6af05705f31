import type {AST, Condition} from '../protocol/ast.js';
import {
  allowConditions,
  type PermissionAsset,
  type PermissionRules,
  type Policy,
} from '../protocol/permission-rules.js';
import type {CRUDOp} from '../protocol/sync-up-push.js';
import {readPermissionRules} from '../replica/permissions-table.js';
import type {ReplicaDb} from '../replica/replica-file.js';
import {buildPipeline, ReplicaSources, type Row} from '../zql/index.js';
import {keyValues} from './write-target.js';

/**
 * Write permissions of legacy CRUD mutations (fact sheet §7.6), decided on the replica, as the
 * reference does. Upserts count as updates when the replica has the row, else as inserts.
 *
 * - Before the mutation (the replica as it is): an update needs its `update.preMutation` rules,
 *   a delete its `delete` rules.
 * - After it (every op of the mutation simulated in memory over the replica, nothing written): an
 *   insert needs its `insert` rules, an update its `update.postMutation` rules.
 *
 * A rule list passes when the row (found by its key) satisfies one of its conditions; a missing
 * or empty row rule list denies, and so does no permissions deployed at all. Cell rules of the
 * columns an op writes must pass as well. An update or delete of a row the replica lacks is
 * denied, exactly like a write the rules refuse (as in the reference, whose pre-mutation check
 * finds no row): answering it differently would tell a client whether a key it may not see
 * exists. An unknown table or column is an error (thrown).
 *
 * Not guaranteed: the replica may lag upstream by the replication delay, so a rule sees the rows
 * as the replica has them, not as upstream has them at the moment of the write.
 */
type Phase = 'pre' | 'post';
type NormalizedOp = CRUDOp & {readonly op: 'insert' | 'update' | 'delete'};

export class WritePermissions {
  readonly #db: ReplicaDb;
  readonly #appID: string;

  constructor(replica: ReplicaDb, appID: string) {
    this.#db = replica;
    this.#appID = appID;
  }

  /** Whether the mutation's ops may run for a client with this token payload. */
  allows(ops: readonly CRUDOp[], authData: unknown): boolean {
    const rules = readPermissionRules(this.#db, this.#appID);
    // Fresh sources per check: they follow the replica's current schema, and their overlays
    // (the simulated writes) die with them.
    const sources = new ReplicaSources(this.#db);
    return sources.read(() => {
      const normalized = ops.map((op) => normalize(op, sources));
      const pre = normalized.every(
        (op) => op.op === 'insert' || this.#passes('pre', op, rules, authData, sources),
      );
      if (!pre || !simulate(normalized, sources)) return false;
      return normalized.every(
        (op) => op.op === 'delete' || this.#passes('post', op, rules, authData, sources),
      );
    });
  }

  #passes(
    phase: Phase,
    op: NormalizedOp,
    rules: PermissionRules | null,
    authData: unknown,
    sources: ReplicaSources,
  ): boolean {
    const table = rules?.tables?.[op.tableName];
    const policies: (Policy | undefined)[] = [policyFor(table?.row, op.op, phase)];
    for (const [column, asset] of Object.entries(table?.cell ?? {})) {
      if (op.op === 'update' && op.value[column] === undefined) continue;
      const cell = policyFor(asset, op.op, phase);
      if (cell) policies.push(cell);
    }
    const key = rowKey(op, sources);
    return policies.every((p) =>
      rowSatisfies(op.tableName, key, allowConditions(p, authData), sources),
    );
  }
}

function policyFor(asset: PermissionAsset | undefined, op: NormalizedOp['op'], phase: Phase) {
  if (op === 'insert') return phase === 'post' ? asset?.insert : undefined;
  if (op === 'delete') return phase === 'pre' ? asset?.delete : undefined;
  return phase === 'pre' ? asset?.update?.preMutation : asset?.update?.postMutation;
}

/** Whether the row with this key exists and meets one of the conditions (none: it does not). */
function rowSatisfies(
  table: string,
  key: Record<string, string | number | boolean>,
  allowed: Condition[],
  sources: ReplicaSources,
): boolean {
  if (allowed.length === 0) return false;
  const byKey: Condition[] = Object.entries(key).map(([name, value]) => ({
    type: 'simple',
    op: '=',
    left: {type: 'column', name},
    right: {type: 'literal', value},
  }));
  const ast: AST = {
    table,
    where: {type: 'and', conditions: [...byKey, {type: 'or', conditions: allowed}]},
  };
  const input = buildPipeline(ast, sources);
  try {
    for (const _ of input.fetch({})) return true;
    return false;
  } finally {
    input.destroy();
  }
}

function normalize(op: CRUDOp, sources: ReplicaSources): NormalizedOp {
  if (op.op !== 'upsert') return op as NormalizedOp;
  const exists = sources.getRow(op.tableName, rowKey(op, sources)) !== null;
  return {...op, op: exists ? 'update' : 'insert'};
}

/**
 * Puts each op's outcome in its table's overlay, in order (a later op sees an earlier one's).
 * False when an update or delete finds no row (e.g. one an earlier op of the mutation deleted).
 */
function simulate(ops: readonly NormalizedOp[], sources: ReplicaSources): boolean {
  const images = new Map<string, Row | null>();
  for (const op of ops) {
    const source = sources.getSource(op.tableName);
    const key = rowKey(op, sources);
    const id = `${op.tableName}\u0000${JSON.stringify(key)}`;
    const before = images.has(id) ? images.get(id)! : sources.getRow(op.tableName, key);
    let after: Row | null;
    if (op.op === 'insert') {
      after = Object.fromEntries([...source.columns.keys()].map((c) => [c, null])) as Row;
      Object.assign(after, op.value);
    } else if (!before) {
      return false;
    } else {
      after = op.op === 'update' ? ({...before, ...op.value} as Row) : null;
    }
    images.set(id, after);
    source.overlay.substitute(key as Row, after);
  }
  return true;
}

function rowKey(op: CRUDOp, sources: ReplicaSources): Record<string, string | number | boolean> {
  const {primaryKey} = sources.getSource(op.tableName);
  return keyValues({tableName: op.tableName, primaryKey}, op.value);
}
