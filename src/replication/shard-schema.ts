import type postgres from 'postgres';
import type {PublishedSchema} from './published-schema.js';
import {
  appSchema,
  defaultPublication,
  metadataPublication,
  pgIdent,
  shardSchema,
  type ShardId,
} from './shard-names.js';

/**
 * The app and shard schemas in upstream Postgres: `{app}.schemaVersions`, `{app}.permissions`,
 * `S.clients`, `S.mutations` (written by the app's API server), `S.shardConfig`, `S.replicas`, and
 * the publications. Idempotent: safe to run at every start.
 */
export interface ShardSetup {
  /** Every publication to replicate: the app's (or the default one) plus the metadata one. */
  publications: string[];
}

export async function ensureShardSchema(
  sql: postgres.Sql,
  shard: ShardId,
  appPublications: string[],
): Promise<ShardSetup> {
  return sql.begin(async (tx) => {
    await tx.unsafe(appSchemaSql(shard));
    const pubs = await ensureAppPublications(tx, shard, appPublications);
    await tx.unsafe(shardTablesSql(shard));
    const meta = metadataPublication(shard);
    const exists = await tx`SELECT 1 FROM pg_publication WHERE pubname = ${meta}`;
    if (exists.length === 0) {
      const app = pgIdent(appSchema(shard));
      const s = pgIdent(shardSchema(shard));
      await tx.unsafe(
        `CREATE PUBLICATION ${pgIdent(meta)} FOR TABLE ${app}."schemaVersions", ${app}."permissions", ${s}."clients", ${s}."mutations"`,
      );
    }
    return {publications: [...pubs, meta].sort()};
  }) as Promise<ShardSetup>;
}

async function ensureAppPublications(
  tx: postgres.TransactionSql,
  shard: ShardId,
  requested: string[],
): Promise<string[]> {
  if (requested.length === 0) {
    const name = defaultPublication(shard);
    const exists = await tx`SELECT 1 FROM pg_publication WHERE pubname = ${name}`;
    if (exists.length === 0) {
      await tx.unsafe(
        `CREATE PUBLICATION ${pgIdent(name)} FOR TABLES IN SCHEMA public WITH (publish_via_partition_root = true)`,
      );
    }
    return [name];
  }
  const found = await tx<
    {
      pubname: string;
      pubinsert: boolean;
      pubupdate: boolean;
      pubdelete: boolean;
      pubtruncate: boolean;
    }[]
  >`
    SELECT pubname, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname IN ${tx(requested)}`;
  const missing = requested.filter((p) => !found.some((f) => f.pubname === p));
  if (missing.length > 0) {
    throw new Error(
      `upstream: publication(s) ${missing.join(', ')} named in ZERO_APP_PUBLICATIONS do not exist. ` +
        'Create them (CREATE PUBLICATION ... FOR TABLE ...) or unset ZERO_APP_PUBLICATIONS to replicate schema public.',
    );
  }
  for (const p of found) {
    if (!p.pubinsert || !p.pubupdate || !p.pubdelete || !p.pubtruncate) {
      throw new Error(
        `upstream: publication ${p.pubname} must publish insert, update, delete and truncate ` +
          `(ALTER PUBLICATION ${pgIdent(p.pubname)} SET (publish = 'insert, update, delete, truncate'))`,
      );
    }
  }
  return [...requested];
}

function appSchemaSql(shard: ShardId): string {
  const app = pgIdent(appSchema(shard));
  return `
  CREATE SCHEMA IF NOT EXISTS ${app};
  CREATE TABLE IF NOT EXISTS ${app}."schemaVersions" (
    "minSupportedVersion" INT4,
    "maxSupportedVersion" INT4,
    "lock" BOOL PRIMARY KEY DEFAULT true CHECK ("lock")
  );
  INSERT INTO ${app}."schemaVersions" ("lock", "minSupportedVersion", "maxSupportedVersion")
    VALUES (true, 1, 1) ON CONFLICT DO NOTHING;
  CREATE TABLE IF NOT EXISTS ${app}."permissions" (
    "permissions" JSONB,
    "hash" TEXT,
    "lock" BOOL PRIMARY KEY DEFAULT true CHECK ("lock")
  );
  CREATE OR REPLACE FUNCTION ${app}.set_permissions_hash() RETURNS TRIGGER AS $$
  BEGIN
    NEW.hash = md5(NEW.permissions::text);
    RETURN NEW;
  END;
  $$ LANGUAGE plpgsql;
  CREATE OR REPLACE TRIGGER on_set_permissions BEFORE INSERT OR UPDATE ON ${app}."permissions"
    FOR EACH ROW EXECUTE FUNCTION ${app}.set_permissions_hash();
  INSERT INTO ${app}."permissions" ("permissions") VALUES (NULL) ON CONFLICT DO NOTHING;`;
}

function shardTablesSql(shard: ShardId): string {
  const s = pgIdent(shardSchema(shard));
  return `
  CREATE SCHEMA IF NOT EXISTS ${s};
  CREATE TABLE IF NOT EXISTS ${s}."clients" (
    "clientGroupID" TEXT NOT NULL,
    "clientID" TEXT NOT NULL,
    "lastMutationID" BIGINT NOT NULL,
    "userID" TEXT,
    PRIMARY KEY ("clientGroupID", "clientID")
  );
  CREATE TABLE IF NOT EXISTS ${s}."mutations" (
    "clientGroupID" TEXT NOT NULL,
    "clientID" TEXT NOT NULL,
    "mutationID" BIGINT NOT NULL,
    "result" JSON NOT NULL,
    PRIMARY KEY ("clientGroupID", "clientID", "mutationID")
  );
  CREATE TABLE IF NOT EXISTS ${s}."shardConfig" (
    "publications" TEXT[] NOT NULL,
    "ddlDetection" BOOL NOT NULL,
    "lock" BOOL PRIMARY KEY DEFAULT true CHECK ("lock")
  );
  CREATE TABLE IF NOT EXISTS ${s}."replicas" (
    "slot" TEXT PRIMARY KEY,
    "version" TEXT NOT NULL,
    "initialSchema" JSON NOT NULL
  );`;
}

export async function writeShardConfig(
  sql: postgres.Sql,
  shard: ShardId,
  cfg: {publications: string[]; ddlDetection: boolean},
): Promise<void> {
  const s = pgIdent(shardSchema(shard));
  await sql.unsafe(
    `INSERT INTO ${s}."shardConfig" ("publications", "ddlDetection", "lock") VALUES ($1, $2, true)
     ON CONFLICT ("lock") DO UPDATE SET "publications" = excluded."publications", "ddlDetection" = excluded."ddlDetection"`,
    [cfg.publications, cfg.ddlDetection],
  );
}

/**
 * Tables without a primary key but with a unique, immediate index over non-null columns get
 * `REPLICA IDENTITY USING INDEX` on it, so that their updates and deletes can be replicated.
 * Returns the tables changed.
 */
export async function setReplicaIdentities(
  sql: postgres.Sql,
  schema: PublishedSchema,
): Promise<string[]> {
  const changed: string[] = [];
  for (const t of schema.tables) {
    if (t.replicaIdentity !== 'd' || t.primaryKey.length === 0) continue;
    const hasPk = await sql`SELECT 1 FROM pg_index WHERE indrelid = ${t.oid} AND indisprimary`;
    if (hasPk.length > 0) continue;
    const idx = schema.indexes.find(
      (i) =>
        i.schema === t.schema &&
        i.tableName === t.name &&
        i.unique &&
        i.isImmediate &&
        Object.keys(i.columns).every((c) => t.columns[c]?.notNull),
    );
    if (!idx) continue;
    await sql.unsafe(
      `ALTER TABLE ${pgIdent(t.schema)}.${pgIdent(t.name)} REPLICA IDENTITY USING INDEX ${pgIdent(idx.name)}`,
    );
    changed.push(`${t.schema}.${t.name}`);
  }
  return changed;
}
