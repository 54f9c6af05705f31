/**
 * DDL detection: event triggers that put the published schema into the WAL, before and after each
 * schema-changing statement, as transactional logical messages with prefix `{app}/{shard}`:
 *
 *   {type: 'ddlStart', version: 1, schema: PublishedSchema, context: {query}}
 *   {type: 'ddlUpdate', version: 1, schema: PublishedSchema, event: {tag}, context: {query}}
 *
 * ddlStart precedes every statement with one of DDL_TAGS; ddlUpdate follows it only when the
 * statement changed the published schema (so DDL on unpublished tables, or other publications, emits
 * no ddlUpdate). The replication stream diffs the two schemas (schema-diff.ts).
 */
import type postgres from 'postgres';
import {publishedSchemaQuery} from './published-schema-sql.js';
import {ddlMessagePrefix, pgIdent, shardSchema, type ShardId} from './shard-names.js';

/** Version of the message format; consumers must reject other versions. */
export const DDL_MESSAGE_VERSION = 1;

/** Command tags that fire the triggers. */
export const DDL_TAGS = [
  'CREATE TABLE',
  'ALTER TABLE',
  'CREATE INDEX',
  'DROP TABLE',
  'DROP INDEX',
  'ALTER PUBLICATION',
  'ALTER SCHEMA',
] as const;

export interface DdlTriggerConfig extends ShardId {
  /** The shard's publications; only their tables make up the reported schema. */
  publications: string[];
}

/** `ddlDetection: false` means degraded mode: the user may not create event triggers. */
export interface DdlTriggerInstallResult {
  ddlDetection: boolean;
}

/** Event trigger names are global in a database, hence app and shard in each. */
export function ddlTriggerNames({appID, shardNum}: ShardId): string[] {
  const tagNames = DDL_TAGS.map(
    (tag) => `${appID}_${tag.toLowerCase().replaceAll(' ', '_')}_${shardNum}`,
  );
  return [`${appID}_ddl_start_${shardNum}`, ...tagNames];
}

/**
 * Creates (or replaces) the trigger functions in schema `{app}_{shard}` and the event triggers, all
 * in one transaction (a savepoint when `sql` is already a transaction). Without the privilege to
 * create event triggers (SQLSTATE 42501; superuser is needed) nothing is created and the result is
 * `{ddlDetection: false}`; any other failure throws.
 */
export async function installDdlTriggers(
  sql: postgres.Sql | postgres.TransactionSql,
  config: DdlTriggerConfig,
): Promise<DdlTriggerInstallResult> {
  checkShardId(config);
  if (config.publications.length === 0) {
    throw new Error(
      `installDdlTriggers for shard ${ddlMessagePrefix(config)} needs at least one publication ` +
        `(the triggers report the tables of the shard's publications).`,
    );
  }
  const statements = [
    `CREATE SCHEMA IF NOT EXISTS ${pgIdent(shardSchema(config))}`,
    emitDdlStartFunction(config),
    emitDdlEndFunction(config),
    ...dropTriggerStatements(config),
    ...createTriggerStatements(config),
  ];
  try {
    await runInOneTransaction(sql, statements);
  } catch (err) {
    if (isInsufficientPrivilege(err)) {
      return {ddlDetection: false};
    }
    throw err;
  }
  return {ddlDetection: true};
}

/** Drops the shard's event triggers and their functions; a no-op for those that do not exist. */
export async function dropDdlTriggers(
  sql: postgres.Sql | postgres.TransactionSql,
  shard: ShardId,
): Promise<void> {
  checkShardId(shard);
  const schema = pgIdent(shardSchema(shard));
  const statements = [
    ...dropTriggerStatements(shard),
    `DROP FUNCTION IF EXISTS ${schema}.emit_ddl_start()`,
    `DROP FUNCTION IF EXISTS ${schema}.emit_ddl_end()`,
  ];
  await runInOneTransaction(sql, statements);
}

/** Transaction-local setting in which ddl_command_start leaves the schema for ddl_command_end. */
function startSchemaSetting({appID, shardNum}: ShardId): string {
  return `zcache_ddl.start_schema_${appID}_${shardNum}`;
}

function checkShardId({appID, shardNum}: ShardId): void {
  if (!/^[a-z0-9_]+$/.test(appID)) {
    throw new Error(`App ID "${appID}" is invalid: use only a-z, 0-9 and _ (ZERO_APP_ID).`);
  }
  if (!Number.isSafeInteger(shardNum) || shardNum < 0) {
    throw new Error(`Shard number ${shardNum} is invalid: use an integer ≥ 0 (ZERO_SHARD_NUM).`);
  }
}

// The trigger functions embed the published-schema query rather than calling a shared function, so
// that a user running DDL needs no USAGE on the shard schema. SET search_path keeps the catalog
// names in the query from resolving to a user's objects.
function emitDdlStartFunction(config: DdlTriggerConfig): string {
  return `
CREATE OR REPLACE FUNCTION ${pgIdent(shardSchema(config))}.emit_ddl_start()
RETURNS event_trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $zcache_fn$
DECLARE
  zc_schema_text text;
BEGIN
  SELECT q.schema::text INTO zc_schema_text FROM (${schemaQueryFor(config)}) AS q;
  PERFORM set_config(${quoteLiteral(startSchemaSetting(config))}, zc_schema_text, true);
  PERFORM pg_logical_emit_message(true, ${quoteLiteral(ddlMessagePrefix(config))},
    json_build_object(
      'type', 'ddlStart',
      'version', ${DDL_MESSAGE_VERSION},
      'schema', zc_schema_text::json,
      'context', json_build_object('query', coalesce(current_query(), ''))
    )::text);
END
$zcache_fn$`;
}

function emitDdlEndFunction(config: DdlTriggerConfig): string {
  return `
CREATE OR REPLACE FUNCTION ${pgIdent(shardSchema(config))}.emit_ddl_end()
RETURNS event_trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $zcache_fn$
DECLARE
  zc_schema_text text;
BEGIN
  SELECT q.schema::text INTO zc_schema_text FROM (${schemaQueryFor(config)}) AS q;
  IF zc_schema_text = current_setting(${quoteLiteral(startSchemaSetting(config))}, true) THEN
    RAISE NOTICE 'zero(%) ignoring %: the published schema is unchanged',
      ${quoteLiteral(String(config.shardNum))}, TG_TAG;
    RETURN;
  END IF;
  PERFORM pg_logical_emit_message(true, ${quoteLiteral(ddlMessagePrefix(config))},
    json_build_object(
      'type', 'ddlUpdate',
      'version', ${DDL_MESSAGE_VERSION},
      'schema', zc_schema_text::json,
      'event', json_build_object('tag', TG_TAG),
      'context', json_build_object('query', coalesce(current_query(), ''))
    )::text);
END
$zcache_fn$`;
}

function schemaQueryFor({publications}: DdlTriggerConfig): string {
  return publishedSchemaQuery(`ARRAY[${publications.map(quoteLiteral).join(', ')}]::text[]`);
}

function createTriggerStatements(config: DdlTriggerConfig): string[] {
  const schema = pgIdent(shardSchema(config));
  const [startName, ...endNames] = ddlTriggerNames(config);
  const allTags = DDL_TAGS.map(quoteLiteral).join(', ');
  return [
    `CREATE EVENT TRIGGER ${pgIdent(startName!)} ON ddl_command_start
       WHEN TAG IN (${allTags}) EXECUTE FUNCTION ${schema}.emit_ddl_start()`,
    ...DDL_TAGS.map(
      (tag, i) =>
        `CREATE EVENT TRIGGER ${pgIdent(endNames[i]!)} ON ddl_command_end
           WHEN TAG IN (${quoteLiteral(tag)}) EXECUTE FUNCTION ${schema}.emit_ddl_end()`,
    ),
  ];
}

function dropTriggerStatements(shard: ShardId): string[] {
  return ddlTriggerNames(shard).map((name) => `DROP EVENT TRIGGER IF EXISTS ${pgIdent(name)}`);
}

async function runInOneTransaction(
  sql: postgres.Sql | postgres.TransactionSql,
  statements: string[],
): Promise<void> {
  const run = async (tx: postgres.TransactionSql) => {
    for (const statement of statements) {
      await tx.unsafe(statement);
    }
  };
  if ('savepoint' in sql) {
    await sql.savepoint(run);
  } else {
    await sql.begin(run);
  }
}

function isInsufficientPrivilege(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as {code?: unknown}).code === '42501';
}

/** A string literal that reads the same whatever standard_conforming_strings is. */
function quoteLiteral(value: string): string {
  if (value.includes('\0')) {
    throw new Error(`Cannot put ${JSON.stringify(value)} in SQL: Postgres text cannot hold NUL.`);
  }
  const quoted = `'${value.replaceAll("'", "''")}'`;
  return value.includes('\\') ? `E${quoted.replaceAll('\\', '\\\\')}` : quoted;
}
