import type postgres from 'postgres';
import {
  assertQueryKindStorable,
  canonicalRowKey,
  cookieOrNull,
  jsonOrNull,
} from './cvr-store-codec.js';
import type {CVRInstance, DesireRecord, QueryRecord, RowRecord} from './cvr-types.js';
import {versionString} from './cvr-version.js';

/**
 * The statements of a CVR flush and of garbage collection. Each builder takes a connection, the
 * quoted CVR schema and the client group, and returns its statements *unsent*, so that a flush can
 * send them all at once (pipelined, one round trip) in its transaction. Record lists are written
 * as `unnest` statements of up to WRITE_BATCH records each (one array parameter per column). A
 * record listed twice is written once, the last one winning (Postgres refuses to upsert one key
 * twice in a statement).
 */

type Tx = postgres.Sql | postgres.TransactionSql | postgres.ReservedSql;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Statement = postgres.PendingQuery<any>;

const WRITE_BATCH = 5000;

/**
 * A statement postgres.js prepares once per connection. (`unsafe` statements are otherwise parsed
 * and described on every run: two round trips each, and no pipelining.) Only for fixed SQL texts.
 */
function prepared(tx: Tx, sql: string, params: postgres.ParameterOrJSON<never>[]): Statement {
  return tx.unsafe(sql, params as never[], {prepare: true});
}

function* batches<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += WRITE_BATCH) yield items.slice(i, i + WRITE_BATCH);
}

function lastOfEachKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()];
}

/**
 * Booleans for a `$n::text[]::bool[]` parameter: postgres.js mistypes a JS boolean array (as one
 * boolean), and serializes the elements of a bool[] parameter as 'f' unless they are `true`.
 */
const boolTexts = (values: boolean[]) => values.map((b) => (b ? 't' : 'f'));

const toTimestamp = (param: string) => `to_timestamp(${param}::float8 / 1000)`;

/**
 * Writes the instance row with this task as owner since `lastConnectTime`. With `create`, inserts
 * it; the statement's count is then 0 when a row already exists (another task created the CVR
 * concurrently).
 */
export function writeInstance(
  tx: Tx,
  s: string,
  instance: CVRInstance,
  ownership: {owner: string; grantedAt: number},
  create: boolean,
): Statement {
  const values = [
    instance.clientGroupID,
    versionString(instance.version),
    instance.lastActive,
    instance.ttlClock,
    instance.replicaVersion,
    ownership.owner,
    ownership.grantedAt,
    jsonOrNull(instance.clientSchema),
    instance.profileID,
    instance.principal,
    cookieOrNull(instance.queriesPurgedThrough),
    cookieOrNull(instance.handedOutCeiling),
    JSON.stringify(instance.lostRanges.map(([a, t]) => [versionString(a), versionString(t)])),
  ];
  if (create) {
    return prepared(
      tx,
      `INSERT INTO ${s}.instances ("clientGroupID", "version", "lastActive", "ttlClock",
         "replicaVersion", "owner", "grantedAt", "clientSchema", "profileID", "principal",
         "queriesPurgedThrough", "handedOutCeiling", "lostRanges", "deleted")
       VALUES ($1, $2, ${toTimestamp('$3')}, $4, $5, $6, ${toTimestamp('$7')}, $8::text::jsonb, $9, $10,
         $11, $12, $13::text::jsonb, FALSE)
       ON CONFLICT ("clientGroupID") DO NOTHING`,
      values,
    );
  }
  return prepared(
    tx,
    `UPDATE ${s}.instances SET "version" = $2, "lastActive" = ${toTimestamp('$3')},
       "ttlClock" = $4, "replicaVersion" = $5, "owner" = $6, "grantedAt" = ${toTimestamp('$7')},
       "clientSchema" = $8::text::jsonb, "profileID" = $9, "principal" = $10,
       "queriesPurgedThrough" = $11, "handedOutCeiling" = $12, "lostRanges" = $13::text::jsonb
     WHERE "clientGroupID" = $1`,
    values,
  );
}

/** Removes the clients in `del`, then adds those in `put`. */
export function writeClients(
  tx: Tx,
  s: string,
  clientGroupID: string,
  clients: {put?: readonly string[]; del?: readonly string[]},
): Statement[] {
  const out: Statement[] = [];
  if (clients.del?.length) {
    out.push(
      prepared(
        tx,
        `DELETE FROM ${s}.clients WHERE "clientGroupID" = $1 AND "clientID" = ANY($2::text[])`,
        [clientGroupID, [...clients.del]],
      ),
    );
  }
  for (const put of batches(clients.put ?? [])) {
    out.push(
      prepared(
        tx,
        `INSERT INTO ${s}.clients ("clientGroupID", "clientID")
       SELECT $1, c FROM unnest($2::text[]) AS c ON CONFLICT DO NOTHING`,
        [clientGroupID, put],
      ),
    );
  }
  return out;
}

export function upsertQueries(
  tx: Tx,
  s: string,
  clientGroupID: string,
  queries: readonly QueryRecord[],
): Statement[] {
  const out: Statement[] = [];
  queries.forEach((q) => assertQueryKindStorable(clientGroupID, q));
  const unique = lastOfEachKey(queries, (q) => q.queryHash);
  for (const batch of batches(unique)) {
    out.push(
      prepared(
        tx,
        `INSERT INTO ${s}.queries ("clientGroupID", "queryHash", "clientAST", "queryName",
         "queryArgs", "patchVersion", "transformationHash", "internal", "deleted")
       SELECT $1, h, ast::json, n, a::json, pv, th, i, d
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[]::bool[], $9::text[]::bool[]) AS q(h, ast, n, a, pv, th, i, d)
       ON CONFLICT ("clientGroupID", "queryHash") DO UPDATE SET
         "clientAST" = EXCLUDED."clientAST", "queryName" = EXCLUDED."queryName",
         "queryArgs" = EXCLUDED."queryArgs", "patchVersion" = EXCLUDED."patchVersion",
         "transformationHash" = EXCLUDED."transformationHash",
         "internal" = EXCLUDED."internal", "deleted" = EXCLUDED."deleted"`,
        [
          clientGroupID,
          batch.map((q) => q.queryHash),
          batch.map((q) => jsonOrNull(q.ast)),
          batch.map((q) => q.name),
          batch.map((q) => jsonOrNull(q.args)),
          batch.map((q) => cookieOrNull(q.patchVersion)),
          batch.map((q) => q.transformationHash),
          boolTexts(batch.map((q) => q.kind === 'internal')),
          boolTexts(batch.map((q) => q.deleted)),
        ],
      ),
    );
  }
  return out;
}

/** Deletes query records, and with them (ON DELETE CASCADE) their desires. */
export function deleteQueries(
  tx: Tx,
  s: string,
  clientGroupID: string,
  queryHashes: readonly string[],
): Statement[] {
  return [...batches(queryHashes)].map((batch) =>
    prepared(
      tx,
      `DELETE FROM ${s}.queries WHERE "clientGroupID" = $1 AND "queryHash" = ANY($2::text[])`,
      [clientGroupID, batch],
    ),
  );
}

/** Upserts desires. Each must name a query that is stored or written in the same flush. */
export function upsertDesires(
  tx: Tx,
  s: string,
  clientGroupID: string,
  desires: readonly DesireRecord[],
): Statement[] {
  const out: Statement[] = [];
  const unique = lastOfEachKey(desires, (d) => JSON.stringify([d.clientID, d.queryHash]));
  for (const batch of batches(unique)) {
    out.push(
      prepared(
        tx,
        `INSERT INTO ${s}.desires ("clientGroupID", "clientID", "queryHash", "patchVersion",
         "deleted", "ttlMs", "inactivatedAtMs")
       SELECT $1, c, h, pv, d, ttl, ia
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]::bool[], $6::float8[], $7::float8[])
           AS x(c, h, pv, d, ttl, ia)
       ON CONFLICT ("clientGroupID", "clientID", "queryHash") DO UPDATE SET
         "patchVersion" = EXCLUDED."patchVersion", "deleted" = EXCLUDED."deleted",
         "ttlMs" = EXCLUDED."ttlMs", "inactivatedAtMs" = EXCLUDED."inactivatedAtMs"`,
        [
          clientGroupID,
          batch.map((d) => d.clientID),
          batch.map((d) => d.queryHash),
          batch.map((d) => versionString(d.patchVersion)),
          boolTexts(batch.map((d) => d.deleted)),
          batch.map((d) => d.ttlMs),
          batch.map((d) => d.inactivatedAtMs),
        ],
      ),
    );
  }
  return out;
}

/** Upserts row records and records that the rows are flushed up to `rowsVersion`. */
export function upsertRows(
  tx: Tx,
  s: string,
  clientGroupID: string,
  rows: readonly RowRecord[],
  rowsVersion: string,
): Statement[] {
  const out: Statement[] = [];
  out.push(
    prepared(
      tx,
      `INSERT INTO ${s}."rowsVersion" ("clientGroupID", "version") VALUES ($1, $2)
     ON CONFLICT ("clientGroupID") DO UPDATE SET "version" = $2`,
      [clientGroupID, rowsVersion],
    ),
  );
  const keyed = rows.map((r) => ({row: r, key: canonicalRowKey(r.rowKey)}));
  const unique = lastOfEachKey(keyed, (k) => JSON.stringify([k.row.table, k.key]));
  for (const batch of batches(unique)) {
    out.push(
      prepared(
        tx,
        `INSERT INTO ${s}.rows ("clientGroupID", "table", "rowKey", "rowVersion", "patchVersion",
         "refCounts")
       SELECT $1, t, k, rv, pv, rc::jsonb
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
           AS r(t, k, rv, pv, rc)
       ON CONFLICT ("clientGroupID", "table", "rowKey") DO UPDATE SET
         "rowVersion" = EXCLUDED."rowVersion", "patchVersion" = EXCLUDED."patchVersion",
         "refCounts" = EXCLUDED."refCounts"`,
        [
          clientGroupID,
          batch.map((k) => k.row.table),
          batch.map((k) => k.key),
          batch.map((k) => k.row.rowVersion),
          batch.map((k) => versionString(k.row.patchVersion)),
          batch.map((k) => jsonOrNull(k.row.refCounts)),
        ],
      ),
    );
  }
  return out;
}

/**
 * Garbage-collects client groups (§3.5): deletes everything they hold and leaves a tombstone
 * instance (deleted, version `00`, no owner) that keeps `lastActive` and `profileID` for usage
 * statistics and makes later loads fail with ClientGroupPurgedError. Deletes bottom-up rather than
 * relying on cascades, whose foreign keys are not index prefixes everywhere.
 */
export async function tombstoneClientGroups(
  tx: Tx,
  s: string,
  clientGroupIDs: readonly string[],
): Promise<void> {
  if (clientGroupIDs.length === 0) return;
  const ids = [...clientGroupIDs];
  for (const table of ['desires', 'queries', 'clients', 'rows', '"rowsVersion"']) {
    await tx.unsafe(`DELETE FROM ${s}.${table} WHERE "clientGroupID" = ANY($1::text[])`, [ids]);
  }
  await tx.unsafe(
    `UPDATE ${s}.instances SET "deleted" = TRUE, "version" = '00', "ttlClock" = 0,
       "replicaVersion" = NULL, "owner" = NULL, "grantedAt" = NULL, "clientSchema" = NULL,
       "principal" = NULL
     WHERE "clientGroupID" = ANY($1::text[])`,
    [ids],
  );
}
