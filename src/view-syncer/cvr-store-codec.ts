import type {AST} from '../protocol/ast.js';
import type {ClientSchema} from '../protocol/sync-up-queries.js';
import {parseBigIntJSON, stringifyBigIntJSON} from '../shared/bigint-json.js';
import type {CVRInstance, DesireRecord, QueryKind, QueryRecord, RowRecord} from './cvr-types.js';
import {parseCookie, versionString} from './cvr-version.js';

/**
 * Conversions between CVR records (cvr-types.ts) and the rows of the CVR tables (cvr-schema.ts).
 * Versions are stored as cookie strings; times as TIMESTAMPTZ (instances) or ms (desires); a row
 * key as canonical JSON text (columns sorted; integers beyond 2^53 kept exact), so that equal keys
 * are equal strings.
 */

export interface InstanceRow {
  version: string;
  lastActive: Date;
  ttlClock: number;
  replicaVersion: string | null;
  owner: string | null;
  grantedAt: Date | null;
  clientSchema: ClientSchema | null;
  profileID: string | null;
  principal: string | null;
  queriesPurgedThrough: string | null;
  handedOutCeiling: string | null;
  lostRanges: [string, string][] | null;
  deleted: boolean;
}

export function instanceFromRow(clientGroupID: string, r: InstanceRow): CVRInstance {
  return {
    clientGroupID,
    version: parseCookie(r.version),
    lastActive: r.lastActive.getTime(),
    ttlClock: r.ttlClock,
    replicaVersion: r.replicaVersion,
    clientSchema: r.clientSchema,
    profileID: r.profileID,
    principal: r.principal,
    queriesPurgedThrough: r.queriesPurgedThrough ? parseCookie(r.queriesPurgedThrough) : null,
    handedOutCeiling: r.handedOutCeiling ? parseCookie(r.handedOutCeiling) : null,
    lostRanges: (r.lostRanges ?? []).map(([a, t]) => [parseCookie(a), parseCookie(t)] as const),
    owner: r.owner,
    grantedAt: r.grantedAt?.getTime() ?? null,
  };
}

export interface QueryRow {
  queryHash: string;
  clientAST: AST | null;
  queryName: string | null;
  queryArgs: unknown[] | null;
  patchVersion: string | null;
  transformationHash: string | null;
  internal: boolean;
  deleted: boolean;
}

/** The kind is not stored: internal queries are flagged, custom queries are the named ones. */
export function queryFromRow(r: QueryRow): QueryRecord {
  const kind: QueryKind = r.internal ? 'internal' : r.queryName !== null ? 'custom' : 'client';
  return {
    queryHash: r.queryHash,
    kind,
    ast: r.clientAST,
    name: r.queryName,
    args: r.queryArgs,
    patchVersion: r.patchVersion === null ? null : parseCookie(r.patchVersion),
    transformationHash: r.transformationHash,
    deleted: r.deleted,
  };
}

/** Fails on a record whose kind could not be read back from what is stored. */
export function assertQueryKindStorable(clientGroupID: string, q: QueryRecord): void {
  const named = q.name !== null;
  if (named !== (q.kind === 'custom')) {
    throw new Error(
      `CVR of client group ${clientGroupID}: query ${q.queryHash} of kind ${q.kind} ` +
        (named ? `has a name (${q.name}); only custom queries do` : 'has no name'),
    );
  }
}

export interface DesireRow {
  clientID: string;
  queryHash: string;
  patchVersion: string;
  deleted: boolean;
  ttlMs: number;
  inactivatedAtMs: number | null;
}

export function desireFromRow(r: DesireRow): DesireRecord {
  return {
    clientID: r.clientID,
    queryHash: r.queryHash,
    patchVersion: parseCookie(r.patchVersion),
    deleted: r.deleted,
    ttlMs: r.ttlMs,
    inactivatedAtMs: r.inactivatedAtMs,
  };
}

/** clientID → queryHash → desire. */
export function desiresByClient(
  rows: readonly DesireRow[],
): Map<string, Map<string, DesireRecord>> {
  const byClient = new Map<string, Map<string, DesireRecord>>();
  for (const row of rows) {
    const desire = desireFromRow(row);
    let ofClient = byClient.get(desire.clientID);
    if (!ofClient) byClient.set(desire.clientID, (ofClient = new Map()));
    ofClient.set(desire.queryHash, desire);
  }
  return byClient;
}

/** A rows-table row as selected by ROW_COLUMNS. */
export interface RowsRow {
  table: string;
  rowKey: string;
  rowVersion: string;
  patchVersion: string;
  refCounts: Record<string, number> | null;
}

/** The select list that RowsRow describes. */
export const ROW_COLUMNS = `"table", "rowKey", "rowVersion", "patchVersion", "refCounts"`;

export function rowFromRow(r: RowsRow): RowRecord {
  return {
    table: r.table,
    rowKey: parseBigIntJSON(r.rowKey) as Record<string, unknown>,
    rowVersion: r.rowVersion,
    patchVersion: parseCookie(r.patchVersion),
    refCounts: r.refCounts,
  };
}

/** JSON of a row key with its columns sorted, so that equal keys have equal text. */
export function canonicalRowKey(rowKey: Record<string, unknown>): string {
  const sorted: Record<string, unknown> = {};
  for (const col of Object.keys(rowKey).sort()) sorted[col] = rowKey[col];
  return stringifyBigIntJSON(sorted);
}

/** `null` stays null (SQL NULL); anything else becomes JSON text. */
export function jsonOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : stringifyBigIntJSON(v);
}

export function cookieOrNull(v: Parameters<typeof versionString>[0] | null): string | null {
  return v === null ? null : versionString(v);
}
