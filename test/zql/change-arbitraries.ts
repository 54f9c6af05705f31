import fc from 'fast-check';
import {
  applyChangeToData,
  cloneData,
  keyColumnsOf,
  tableOf,
  type FuzzChange,
  type FuzzSchema,
  type FuzzTable,
  type Row,
  type TableData,
} from './fuzz-schema.js';
import {rowArb} from './value-arbitraries.js';

/**
 * Change sequences. fast-check generates *intents* that do not depend on the data ("update the
 * pick-th row of t1 to look like this"); `resolveTransactions` turns them into concrete changes
 * against the evolving data, keeping keys unique. Because resolution is deterministic, shrinking an
 * intent shrinks the concrete change.
 */
export type ChangeIntent =
  | {kind: 'insert'; table: string; row: Row}
  | {kind: 'update'; table: string; pick: number; row: Row}
  | {kind: 'update-key'; table: string; pick: number; row: Row}
  | {kind: 'delete'; table: string; pick: number};

export const MAX_CHANGES = 20;
const MAX_CHANGES_PER_TRANSACTION = 3;

function intentArb(table: FuzzTable): fc.Arbitrary<ChangeIntent> {
  const pick = fc.nat({max: 1000});
  const row = rowArb(table);
  return fc.oneof(
    fc.record({kind: fc.constant('insert' as const), table: fc.constant(table.name), row}),
    fc.record({kind: fc.constant('update' as const), table: fc.constant(table.name), pick, row}),
    fc.record({
      kind: fc.constant('update-key' as const),
      table: fc.constant(table.name),
      pick,
      row,
    }),
    fc.record({kind: fc.constant('delete' as const), table: fc.constant(table.name), pick}),
  );
}

export function transactionIntentsArb(schema: FuzzSchema): fc.Arbitrary<ChangeIntent[][]> {
  const intent = fc.oneof(...schema.tables.map((t) => intentArb(t)));
  return fc.array(fc.array(intent, {minLength: 1, maxLength: MAX_CHANGES_PER_TRANSACTION}), {
    minLength: 1,
    maxLength: MAX_CHANGES,
  });
}

/** Concrete transactions (never empty, at most MAX_CHANGES changes in all) from intents. */
export function resolveTransactions(
  schema: FuzzSchema,
  initial: TableData,
  intents: ChangeIntent[][],
): FuzzChange[][] {
  const data = cloneData(initial);
  const transactions: FuzzChange[][] = [];
  let budget = MAX_CHANGES;
  for (const txIntents of intents) {
    const tx: FuzzChange[] = [];
    for (const intent of txIntents) {
      if (budget === 0) break;
      const change = resolveIntent(tableOf(schema, intent.table), data[intent.table] ?? [], intent);
      if (!change) continue;
      applyChangeToData(schema, data, change);
      tx.push(change);
      budget--;
    }
    if (tx.length) transactions.push(tx);
  }
  return transactions;
}

function sameKey(table: FuzzTable, a: Row, b: Row): boolean {
  return table.primaryKey.every((c) => a[c] === b[c]);
}

function resolveIntent(table: FuzzTable, rows: Row[], intent: ChangeIntent): FuzzChange | null {
  const name = table.name;
  if (intent.kind === 'insert') {
    const existing = rows.find((r) => sameKey(table, r, intent.row));
    // Upstream never inserts an existing key: turn the insert into an update of that row.
    if (existing)
      return {op: 'update', table: name, oldKey: keyColumnsOf(table, existing), row: intent.row};
    return {op: 'insert', table: name, row: intent.row};
  }
  if (rows.length === 0) return null;
  const target = rows[intent.pick % rows.length]!;
  const oldKey = keyColumnsOf(table, target);
  switch (intent.kind) {
    case 'delete':
      return {op: 'delete', table: name, key: oldKey};
    case 'update':
      return {op: 'update', table: name, oldKey, row: {...intent.row, ...oldKey}};
    case 'update-key': {
      const clash = rows.some((r) => r !== target && sameKey(table, r, intent.row));
      const row = clash ? {...intent.row, ...oldKey} : intent.row;
      return {op: 'update', table: name, oldKey, row};
    }
  }
}
