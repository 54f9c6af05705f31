/**
 * Messages of the change stream: what flows from upstream replication into the change log, and from
 * the change log to every replicator (in-process or over the change-streamer's WebSocket).
 *
 * Values in rows are *replica values* (see replica/lite-values): already converted from Postgres text
 * form, so that applying a change needs no type knowledge. Integers beyond ±(2^53−1) are bigints and
 * travel as JSON integer literals (shared/bigint-json).
 *
 * Contract: every message of one upstream transaction carries that transaction's commit watermark;
 * watermarks of successive transactions strictly increase.
 */
import type {LexiVersion} from '../shared/lexi-version.js';

export type LiteValue = string | number | bigint | null;
export type Row = Record<string, LiteValue>;

/** A table as the replica names it: `schema` is the upstream schema (`public` for most tables). */
export interface TableId {
  schema: string;
  name: string;
}

export interface Relation extends TableId {
  /** Columns of the key by which updates and deletes identify rows (the replica identity). */
  keyColumns: string[];
  replicaIdentity?: 'default' | 'nothing' | 'full' | 'index';
}

export interface ColumnSpec {
  /** Position (Postgres attnum); used to keep the replica's column order. */
  pos: number;
  /** Upstream type name, e.g. `int4`, `varchar`, `text[]`, `mood` (an enum). */
  dataType: string;
  typeOID: number;
  notNull: boolean;
  /** `e` enum, `b` base, `d` domain, ...; `elemPgTypeClass` likewise for array elements. */
  pgTypeClass?: string;
  elemPgTypeClass?: string | null;
  characterMaximumLength?: number | null;
  dflt?: string | null;
}

export interface TableSpec extends TableId {
  oid?: number;
  columns: Record<string, ColumnSpec>;
  primaryKey: string[];
}

export interface IndexSpec {
  schema: string;
  tableName: string;
  name: string;
  unique: boolean;
  columns: Record<string, 'ASC' | 'DESC'>;
}

export type DataChange =
  | {tag: 'insert'; relation: Relation; new: Row}
  /** `key` is the old key when the key changed (or identity is FULL), else null. `new` is the full row. */
  | {tag: 'update'; relation: Relation; key: Row | null; new: Row}
  | {tag: 'delete'; relation: Relation; key: Row}
  | {tag: 'truncate'; relations: Relation[]}
  | {tag: 'create-table'; spec: TableSpec}
  | {tag: 'rename-table'; old: TableId; new: TableId}
  | {tag: 'add-column'; table: TableId; column: {name: string; spec: ColumnSpec}}
  | {
      tag: 'update-column';
      table: TableId;
      old: {name: string; spec: ColumnSpec};
      new: {name: string; spec: ColumnSpec};
    }
  | {tag: 'drop-column'; table: TableId; column: string}
  | {tag: 'drop-table'; id: TableId}
  | {tag: 'create-index'; spec: IndexSpec}
  | {tag: 'drop-index'; id: {schema: string; name: string}};

export type BeginMessage = ['begin', {tag: 'begin'}, {commitWatermark: LexiVersion}];
export type DataMessage = ['data', DataChange];
export type CommitMessage = ['commit', {tag: 'commit'}, {watermark: LexiVersion}];
export type RollbackMessage = ['rollback', {tag: 'rollback'}];

export type ChangeStreamMessage = BeginMessage | DataMessage | CommitMessage | RollbackMessage;

/** One whole upstream transaction, as stored in and read from the change log. */
export interface CommittedTransaction {
  watermark: LexiVersion;
  changes: DataChange[];
}
