import type {AST} from '../protocol/ast.js';
import type {ClientSchema} from '../protocol/sync-up-queries.js';
import type {CVRVersion} from './cvr-version.js';

/**
 * The client view record (CVR) of one client group: what its clients have been told — the query
 * set (desired per client, got per group) and every row they hold — with the version at which each
 * piece last changed, so that a reconnecting client can be caught up from its cookie.
 *
 * Tombstones keep deletions visible to catch-up: a query or desire marked `deleted`, a row whose
 * `refCounts` is null. Versions are CVRVersions; `patchVersion` is when the record last changed.
 */
export interface CVRInstance {
  clientGroupID: string;
  version: CVRVersion;
  /** Epoch ms of the last client activity (for garbage collection). */
  lastActive: number;
  /** The group's TTL clock in ms (advances only while a view-syncer runs for the group). */
  ttlClock: number;
  /** The replica (initial-sync id) the rows came from; null for a new group. */
  replicaVersion: string | null;
  clientSchema: ClientSchema | null;
  profileID: string | null;
  /** Who the group belongs to (see group-principal.ts); null until its first client connects. */
  principal: string | null;
  /**
   * The newest patch version among query and desire tombstones forgotten to bound the group's
   * records; a client with an older cookie cannot be caught up and gets its view reset.
   */
  queriesPurgedThrough: CVRVersion | null;
  /** A version no client was handed beyond, durably recorded before any was (lost-versions.ts). */
  handedOutCeiling: CVRVersion | null;
  /** Versions that may have been handed out and then lost, as (after, through] ranges. */
  lostRanges: readonly (readonly [after: CVRVersion, through: CVRVersion])[];
  /** The task that owns the group (Rehome), and when it took it (its latest client connect). */
  owner: string | null;
  grantedAt: number | null;
}

export interface DesireRecord {
  clientID: string;
  queryHash: string;
  patchVersion: CVRVersion;
  /** True when the client no longer desires the query (a tombstone for catch-up). */
  deleted: boolean;
  ttlMs: number;
  /** TTL-clock time at which the desire became inactive; null while active. */
  inactivatedAtMs: number | null;
}

export type QueryKind = 'client' | 'custom' | 'internal';

export interface QueryRecord {
  queryHash: string;
  kind: QueryKind;
  /** Server-named AST of a client or internal query. */
  ast: AST | null;
  name: string | null;
  args: readonly unknown[] | null;
  /** When the query became got (its rows were synced); null while only desired. */
  patchVersion: CVRVersion | null;
  transformationHash: string | null;
  /** True once the query is gone (a tombstone for catch-up of got-query deletions). */
  deleted: boolean;
}

export interface RowRecord {
  table: string;
  /** Primary-key columns → values. */
  rowKey: Record<string, unknown>;
  /** `_0_version` of the row as last sent. */
  rowVersion: string;
  patchVersion: CVRVersion;
  /** Query hash → references; null when no query holds the row any more (a tombstone). */
  refCounts: Record<string, number> | null;
}

/** Everything loaded for a group, except rows (loaded on demand for catch-up). */
export interface CVRSnapshot {
  instance: CVRInstance;
  /** Whether the stored row records reach the instance's version (a write-back finished). */
  rowsComplete: boolean;
  clients: Set<string>;
  queries: Map<string, QueryRecord>;
  /** clientID → queryHash → desire. */
  desires: Map<string, Map<string, DesireRecord>>;
}
