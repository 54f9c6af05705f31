import type {Row} from '../protocol/change-stream.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import {parseBigIntJSON, stringifyBigIntJSON} from '../shared/bigint-json.js';
import {cachedStatement, type ReplicaDb} from './replica-file.js';

/**
 * The replica's append-only per-row change list (`_zero.rowChanges`), from which view-syncers advance
 * without long-lived snapshots: for every row a transaction touched, the row's key and its image
 * *before* the change (null: the row did not exist). Table-wide entries (`t` truncate, `r` schema
 * change) have no key and tell readers to rehydrate that table.
 *
 * Contract: entries are appended in commit order with increasing `seq`; entries of one replica
 * version are contiguous; `purgeRowChangesBefore` removes only whole versions older than a bound.
 */
export type RowChangeOp = 's' | 'd' | 't' | 'r';

export interface RowChange {
  seq: number;
  stateVersion: LexiVersion;
  table: string;
  rowKey: Row | null;
  op: RowChangeOp;
  oldRow: Row | null;
}

export class RowChangeWriter {
  readonly #insert;

  constructor(db: ReplicaDb) {
    this.#insert = db.prepare(
      'INSERT INTO "_zero.rowChanges" ("stateVersion","table","rowKey","op","oldRow") VALUES (?,?,?,?,?)',
    );
  }

  rowChanged(
    version: LexiVersion,
    table: string,
    key: Row,
    op: 's' | 'd',
    oldRow: Row | null,
  ): void {
    this.#insert.run(
      version,
      table,
      rowKeyString(key),
      op,
      oldRow ? stringifyBigIntJSON(oldRow) : null,
    );
  }

  tableChanged(version: LexiVersion, table: string, op: 't' | 'r'): void {
    this.#insert.run(version, table, null, op, null);
  }
}

/** The canonical text of a row key: JSON with keys sorted. */
export function rowKeyString(key: Row): string {
  const sorted: Row = {};
  for (const k of Object.keys(key).sort()) sorted[k] = key[k]!;
  return stringifyBigIntJSON(sorted);
}

/** Entries with stateVersion in (after, upTo], in order. */
export function readRowChanges(db: ReplicaDb, after: LexiVersion, upTo: LexiVersion): RowChange[] {
  const rows = cachedStatement(
    db,
    'SELECT * FROM "_zero.rowChanges" WHERE "stateVersion" > ? AND "stateVersion" <= ? ORDER BY "seq"',
  ).all(after, upTo) as {
    seq: number;
    stateVersion: string;
    table: string;
    rowKey: string | null;
    op: RowChangeOp;
    oldRow: string | null;
  }[];
  return rows.map((r) => ({
    ...r,
    rowKey: r.rowKey === null ? null : (parseBigIntJSON(r.rowKey) as Row),
    oldRow: r.oldRow === null ? null : (parseBigIntJSON(r.oldRow) as Row),
  }));
}

/**
 * Removes entries older than `version` and records the bound, so that a reader advancing from an
 * older version knows the list no longer covers it (it must rehydrate instead).
 */
export function purgeRowChangesBefore(db: ReplicaDb, version: LexiVersion): number {
  const removed = cachedStatement(
    db,
    'DELETE FROM "_zero.rowChanges" WHERE "stateVersion" < ?',
  ).run(version).changes;
  if (removed > 0) {
    cachedStatement(
      db,
      `INSERT INTO "_zero.rowChangesState" ("purgedBefore", "lock") VALUES (?, 1)
       ON CONFLICT ("lock") DO UPDATE SET "purgedBefore" = max("purgedBefore", excluded."purgedBefore")`,
    ).run(version);
  }
  return removed;
}

/** Versions before this have had their entries purged ('00' when nothing was purged). */
export function rowChangesPurgedBefore(db: ReplicaDb): LexiVersion {
  const row = cachedStatement(db, 'SELECT "purgedBefore" FROM "_zero.rowChangesState"').get() as
    {purgedBefore: string} | undefined;
  return row?.purgedBefore ?? '00';
}
