import type postgres from 'postgres';
import {pgIdent, shardSchema, type ShardId} from '../replication/shard-names.js';

/**
 * The tables that hold client view records in ZERO_CVR_DB, schema `"{app}_{shard}/cvr"` (fact sheet
 * §3.2), and their upgrade path.
 *
 * Our schema follows the reference's tables and columns with these simplifications:
 * - versions (`version`, `patchVersion`) are cookie strings (`versionString`) in `COLLATE "C"`
 *   columns, so SQL comparisons are byte order, the order cookies sort in, whatever the database's
 *   default collation is;
 * - `desires` keeps only `ttlMs` / `inactivatedAtMs` (the reference's INTERVAL / TIMESTAMPTZ columns
 *   are legacy); `queries` has no `transformationVersion` (unused);
 * - `rows` has no `schema` column: a row's table name already carries its schema (§2.7); its
 *   `rowKey` is the canonical JSON text of the key (columns sorted, see cvr-store-codec.ts), which
 *   compares faster than JSONB in the primary key, so large flushes are cheaper;
 * - `queries.clientAST` is JSON, not JSONB, so an AST comes back with the key order it was stored
 *   with (hashes of ASTs depend on key order, §2.4);
 * - `instances.principal` (ours) is the user the group belongs to (group-principal.ts);
 * - `instances.queriesPurgedThrough` (ours) bounds the query tombstones kept (query-set.ts);
 * - `instances.handedOutCeiling` and `lostRanges` (ours) track cookies a CVR that lost its
 *   latest updates cannot vouch for (lost-versions.ts).
 *
 * Upgrades: `"schemaVersion"` holds the version of these tables. `MIGRATIONS[i]` takes the tables
 * from version i to i + 1 (`MIGRATIONS[0]` creates them). `ensureCVRSchema` runs, in one transaction
 * under an advisory lock (so view-syncers starting together do not race), every migration after the
 * stored version. To change the tables: append a migration, never edit a released one. A database
 * whose tables are newer than this code is refused rather than written with an older layout.
 */

export const cvrSchemaName = (shard: ShardId) => `${shardSchema(shard)}/cvr`;

/** The quoted schema, for SQL text. */
export const cvrSchemaIdent = (shard: ShardId) => pgIdent(cvrSchemaName(shard));

type Migration = (tx: postgres.TransactionSql, schema: string) => Promise<void>;

async function createTablesV1(tx: postgres.TransactionSql, s: string): Promise<void> {
  await tx.unsafe(`
    CREATE TABLE ${s}.instances (
      "clientGroupID"  TEXT PRIMARY KEY,
      "version"        TEXT COLLATE "C" NOT NULL,
      "lastActive"     TIMESTAMPTZ NOT NULL,
      "ttlClock"       DOUBLE PRECISION NOT NULL DEFAULT 0,
      "replicaVersion" TEXT,
      "owner"          TEXT,
      "grantedAt"      TIMESTAMPTZ,
      "clientSchema"   JSONB,
      "profileID"      TEXT,
      "deleted"        BOOL NOT NULL DEFAULT FALSE);
    CREATE INDEX instances_last_active ON ${s}.instances ("lastActive") WHERE NOT "deleted";
    CREATE INDEX tombstones_last_active ON ${s}.instances ("lastActive") WHERE "deleted";

    CREATE TABLE ${s}.clients (
      "clientGroupID" TEXT NOT NULL REFERENCES ${s}.instances ON DELETE CASCADE,
      "clientID"      TEXT NOT NULL,
      PRIMARY KEY ("clientGroupID", "clientID"));

    CREATE TABLE ${s}.queries (
      "clientGroupID"      TEXT NOT NULL REFERENCES ${s}.instances ON DELETE CASCADE,
      "queryHash"          TEXT NOT NULL,
      "clientAST"          JSON,
      "queryName"          TEXT,
      "queryArgs"          JSON,
      "patchVersion"       TEXT COLLATE "C",
      "transformationHash" TEXT,
      "internal"           BOOL NOT NULL DEFAULT FALSE,
      "deleted"            BOOL NOT NULL DEFAULT FALSE,
      PRIMARY KEY ("clientGroupID", "queryHash"));

    CREATE TABLE ${s}.desires (
      "clientGroupID"   TEXT NOT NULL,
      "clientID"        TEXT NOT NULL,
      "queryHash"       TEXT NOT NULL,
      "patchVersion"    TEXT COLLATE "C" NOT NULL,
      "deleted"         BOOL NOT NULL DEFAULT FALSE,
      "ttlMs"           DOUBLE PRECISION NOT NULL,
      "inactivatedAtMs" DOUBLE PRECISION,
      PRIMARY KEY ("clientGroupID", "clientID", "queryHash"),
      FOREIGN KEY ("clientGroupID", "queryHash")
        REFERENCES ${s}.queries ("clientGroupID", "queryHash") ON DELETE CASCADE);

    -- No foreign keys from rows: rows are written without touching the instance row lock, and a
    -- foreign key check per row would cost a quarter of a large flush. GC deletes rows explicitly.
    CREATE TABLE ${s}."rowsVersion" (
      "clientGroupID" TEXT PRIMARY KEY,
      "version"       TEXT COLLATE "C" NOT NULL);

    CREATE TABLE ${s}.rows (
      "clientGroupID" TEXT NOT NULL,
      "table"         TEXT NOT NULL,
      "rowKey"        TEXT COLLATE "C" NOT NULL,
      "rowVersion"    TEXT NOT NULL,
      "patchVersion"  TEXT COLLATE "C" NOT NULL,
      "refCounts"     JSONB,
      PRIMARY KEY ("clientGroupID", "table", "rowKey"));
    -- Catch-up reads rows by patch version; removing queries finds rows by the hashes they hold.
    CREATE INDEX rows_patch_version ON ${s}.rows ("clientGroupID", "patchVersion");
    CREATE INDEX rows_ref_counts ON ${s}.rows USING GIN ("refCounts");`);
}

/** The principal a client group is pinned to (see group-principal.ts); null until it has one. */
async function addInstancePrincipalV2(tx: postgres.TransactionSql, s: string): Promise<void> {
  await tx.unsafe(`ALTER TABLE ${s}.instances ADD COLUMN "principal" TEXT`);
}

/**
 * The newest patch version of the query and desire tombstones the group has forgotten (see
 * QuerySet.purgeTombstones); a client whose cookie is older gets its view reset. Null: none.
 */
async function addQueriesPurgedThroughV3(tx: postgres.TransactionSql, s: string): Promise<void> {
  await tx.unsafe(`ALTER TABLE ${s}.instances ADD COLUMN "queriesPurgedThrough" TEXT COLLATE "C"`);
}

/**
 * What lets a CVR that lost its latest (asynchronously committed) updates tell which cookies it
 * can no longer vouch for (see lost-versions.ts): a version no client was ever handed beyond, and
 * the ranges of versions that may have been handed out and lost. Null / empty: none.
 */
async function addLostVersionsV4(tx: postgres.TransactionSql, s: string): Promise<void> {
  await tx.unsafe(`ALTER TABLE ${s}.instances ADD COLUMN "handedOutCeiling" TEXT COLLATE "C";
    ALTER TABLE ${s}.instances ADD COLUMN "lostRanges" JSONB`);
}

/** `MIGRATIONS[i]` upgrades the tables from version i to version i + 1. Append only. */
const MIGRATIONS: readonly Migration[] = [
  createTablesV1,
  addInstancePrincipalV2,
  addQueriesPurgedThroughV3,
  addLostVersionsV4,
];

/** The version of the CVR tables this code reads and writes. */
export const CVR_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Creates or upgrades the CVR tables of `shard` to CVR_SCHEMA_VERSION. Idempotent and safe to call
 * from several processes at once. Returns the version the tables were at before the call (0 when
 * they did not exist).
 */
export async function ensureCVRSchema(sql: postgres.Sql, shard: ShardId): Promise<number> {
  const name = cvrSchemaName(shard);
  const s = pgIdent(name);
  return await sql.begin(async (tx) => {
    await tx.unsafe(`SELECT pg_advisory_xact_lock(hashtext($1))`, [name]);
    await tx.unsafe(`
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}."schemaVersion" (
        "version" INT NOT NULL,
        "lock"    INT PRIMARY KEY DEFAULT 1 CHECK ("lock" = 1));`);
    const [row] = await tx.unsafe(`SELECT "version" FROM ${s}."schemaVersion"`);
    const from = (row as {version: number} | undefined)?.version ?? 0;
    if (from > CVR_SCHEMA_VERSION) {
      throw new Error(
        `CVR tables in schema ${s} are at version ${from}, newer than this zcache supports ` +
          `(${CVR_SCHEMA_VERSION}); run a newer zcache or point ZERO_CVR_DB elsewhere`,
      );
    }
    for (let v = from; v < CVR_SCHEMA_VERSION; v++) await MIGRATIONS[v]!(tx, s);
    await tx.unsafe(
      `INSERT INTO ${s}."schemaVersion" ("version", "lock") VALUES ($1, 1)
       ON CONFLICT ("lock") DO UPDATE SET "version" = $1`,
      [CVR_SCHEMA_VERSION],
    );
    return from;
  });
}
