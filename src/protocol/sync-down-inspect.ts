/**
 * Downstream inspector answers (fact sheet §9.2): `['inspect', {id, op, value}]`, `id` echoing the
 * request. Until the client group has authenticated, every request but `authenticate` is answered
 * with `{op: 'authenticated', value: false}`.
 */
import type {AST, Condition, Ordering} from './ast.js';
import type {JSONRow, JSONValue} from './sync-json.js';

/** A t-digest as `TDigest.toJSON()` renders it: a non-empty list of numbers. */
export type TDigestJSON = readonly [number, ...number[]];

export type ServerMetrics = {
  readonly 'query-materialization-server': TDigestJSON;
  readonly 'query-update-server': TDigestJSON;
};

/** One query of the client group, per client that desires it. */
export type InspectQueryRow = {
  readonly clientID: string;
  readonly queryID: string;
  /** The legacy query's AST; null for custom queries. */
  readonly ast: AST | null;
  /** Custom queries only. */
  readonly name: string | null;
  readonly args: readonly JSONValue[] | null;
  readonly got: boolean;
  readonly deleted: boolean;
  readonly ttl: number;
  readonly inactivatedAt: number | null;
  readonly rowCount: number;
  readonly metrics?: ServerMetrics | null | undefined;
};

/** tableName → queryID → rows / count (the "by source" maps of AnalyzeQueryResult). */
export type RowsBySource = {
  readonly [table: string]: {readonly [query: string]: readonly JSONRow[]};
};
export type RowCountsBySource = {readonly [table: string]: {readonly [query: string]: number}};

/**
 * A join-planner debug event (`joinPlans`, v42+). The reference defines nine event shapes
 * (attempt-start, connection-costs, connection-selected, constraints-propagated, plan-complete,
 * plan-failed, best-plan-selected, node-cost, node-constraint); the client only displays them, so
 * they are typed loosely here. Events may embed a `Condition` (`filters`) or `Ordering`.
 */
export type PlanDebugEventJSON = {
  readonly type: string;
  readonly filters?: Condition | undefined;
  readonly ordering?: Ordering | undefined;
  readonly [field: string]: unknown;
};

export type AnalyzeQueryResult = {
  readonly warnings: readonly string[];
  readonly syncedRows?: {readonly [table: string]: readonly JSONRow[]} | undefined;
  readonly syncedRowCount: number;
  /** ms timestamps; `end` is deprecated in favour of `start + elapsed`. */
  readonly start: number;
  readonly end: number;
  readonly elapsed?: number | undefined;
  readonly afterPermissions?: string | undefined;
  /** @deprecated use readRowCountsByQuery */
  readonly vendedRowCounts?: RowCountsBySource | undefined;
  /** @deprecated use readRows */
  readonly vendedRows?: RowsBySource | undefined;
  /** table → SQLite `EXPLAIN QUERY PLAN` lines. */
  readonly sqlitePlans?: {readonly [table: string]: readonly string[]} | undefined;
  readonly readRows?: RowsBySource | undefined;
  readonly readRowCountsByQuery?: RowCountsBySource | undefined;
  readonly readRowCount?: number | undefined;
  readonly dbScansByQuery?: RowCountsBySource | undefined;
  readonly joinPlans?: readonly PlanDebugEventJSON[] | undefined;
};

export type InspectDownBody =
  | {readonly id: string; readonly op: 'queries'; readonly value: readonly InspectQueryRow[]}
  | {readonly id: string; readonly op: 'metrics'; readonly value: ServerMetrics}
  | {readonly id: string; readonly op: 'version'; readonly value: string}
  | {readonly id: string; readonly op: 'authenticated'; readonly value: boolean}
  | {readonly id: string; readonly op: 'analyze-query'; readonly value: AnalyzeQueryResult}
  | {readonly id: string; readonly op: 'error'; readonly value: string};

export type InspectDownOp = InspectDownBody['op'];
