import {afterAll, beforeAll, beforeEach, describe, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../../test/support/pg.js';
import {ddlTriggerNames, dropDdlTriggers, installDdlTriggers} from './ddl-triggers.js';
import {getPublishedSchema, type PublishedSchema} from './published-schema.js';
import {diffPublishedSchemas} from './schema-diff.js';

const SLOT = 'ddl_triggers_test';
const shard = {appID: 'zapp', shardNum: 3, publications: ['zapp_pub']};

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('ddltrig');
  await db.sql.unsafe(`
    CREATE SCHEMA other;
    CREATE PUBLICATION zapp_pub FOR TABLES IN SCHEMA public;
    CREATE PUBLICATION unrelated_pub;
  `);
  await db.sql`SELECT pg_create_logical_replication_slot(${SLOT}, 'pgoutput')`;
});
afterAll(async () => {
  await db.sql`SELECT pg_drop_replication_slot(${SLOT})`;
  await db.drop();
});

interface LogicalMessage {
  transactional: boolean;
  prefix: string;
  content: string;
}

/**
 * The logical messages the slot has accumulated since the last call. A pgoutput 'M' message is:
 * 'M', Int8 flags (1 = transactional), Int64 LSN, C-string prefix, Int32 length, content bytes.
 */
async function readMessages(): Promise<LogicalMessage[]> {
  // The slot is only read up to the flushed WAL, and the test cluster runs with
  // synchronous_commit=off: commit one WAL write with it on, which flushes all before it too.
  await db.sql.begin(async (tx) => {
    await tx`SET LOCAL synchronous_commit = on`;
    await tx`SELECT pg_logical_emit_message(true, 'test-flush', '')`;
  });
  const rows = await db.sql<{data: Buffer}[]>`
    SELECT data FROM pg_logical_slot_get_binary_changes(${SLOT}, NULL, NULL,
      'proto_version', '1', 'publication_names', 'zapp_pub', 'messages', 'true')`;
  return rows
    .map((r) => r.data)
    .filter((data) => data[0] === 'M'.charCodeAt(0))
    .map((data) => {
      const prefixEnd = data.indexOf(0, 10);
      const length = data.readInt32BE(prefixEnd + 1);
      return {
        transactional: data.readInt8(1) === 1,
        prefix: data.toString('utf8', 10, prefixEnd),
        content: data.toString('utf8', prefixEnd + 5, prefixEnd + 5 + length),
      };
    });
}

interface DdlMessage {
  type: 'ddlStart' | 'ddlUpdate';
  version: number;
  schema: PublishedSchema;
  event?: {tag: string};
  context: {query: string};
}

async function readDdlMessages(prefix = 'zapp/3'): Promise<DdlMessage[]> {
  const messages = await readMessages();
  for (const m of messages) {
    expect(m.transactional).toBe(true);
  }
  return messages.filter((m) => m.prefix === prefix).map((m) => JSON.parse(m.content));
}

/** Runs one DDL statement; checks the messages against the published schema before and after. */
async function runDdl(query: string): Promise<DdlMessage[]> {
  const before = await getPublishedSchema(db.sql, shard.publications);
  await db.sql.unsafe(query);
  const after = await getPublishedSchema(db.sql, shard.publications);
  const messages = await readDdlMessages();
  expect(messages[0]).toEqual({
    type: 'ddlStart',
    version: 1,
    schema: before,
    context: {query},
  });
  if (messages[1]) {
    expect(messages[1].schema).toEqual(after);
  }
  return messages;
}

describe('with triggers installed', () => {
  beforeAll(async () => {
    expect(await installDdlTriggers(db.sql, shard)).toEqual({ddlDetection: true});
    // Installing again replaces everything in place.
    expect(await installDdlTriggers(db.sql, shard)).toEqual({ddlDetection: true});
  });
  beforeEach(async () => {
    await readMessages();
  });

  test('the event triggers have the names zero-cache gives them', async () => {
    const rows = await db.sql<{evtname: string; evtevent: string}[]>`
      SELECT evtname, evtevent FROM pg_event_trigger ORDER BY evtname`;
    expect(rows.map((r) => r.evtname)).toEqual(ddlTriggerNames(shard).sort());
    expect(ddlTriggerNames(shard)).toEqual([
      'zapp_ddl_start_3',
      'zapp_create_table_3',
      'zapp_alter_table_3',
      'zapp_create_index_3',
      'zapp_drop_table_3',
      'zapp_drop_index_3',
      'zapp_alter_publication_3',
      'zapp_alter_schema_3',
    ]);
  });

  test('each DDL on published tables emits ddlStart, then ddlUpdate with its tag', async () => {
    const statements: [string, string][] = [
      ['CREATE TABLE', 'CREATE TABLE issues (id int4 PRIMARY KEY, title text)'],
      ['ALTER TABLE', 'ALTER TABLE issues ADD COLUMN body varchar(200)'],
      ['ALTER TABLE', 'ALTER TABLE issues RENAME COLUMN title TO name'],
      ['ALTER TABLE', 'ALTER TABLE issues ALTER COLUMN body TYPE text'],
      ['ALTER TABLE', 'ALTER TABLE issues DROP COLUMN body'],
      ['CREATE INDEX', 'CREATE INDEX issues_name ON issues (name DESC)'],
      ['ALTER TABLE', 'ALTER TABLE issues RENAME TO tickets'],
      ['DROP INDEX', 'DROP INDEX issues_name'],
      ['DROP TABLE', 'DROP TABLE tickets'],
    ];
    for (const [tag, query] of statements) {
      const [start, update, ...rest] = await runDdl(query);
      expect(start?.type).toBe('ddlStart');
      expect(update).toMatchObject({type: 'ddlUpdate', version: 1, event: {tag}, context: {query}});
      expect(rest).toEqual([]);
      expect(diffPublishedSchemas(start!.schema, update!.schema)).not.toEqual([]);
    }
  });

  test('each statement of a multi-statement query gets its own pair of messages', async () => {
    const query = 'CREATE TABLE pair (id int4 PRIMARY KEY); CREATE INDEX pair_id ON pair (id DESC)';
    await db.sql.unsafe(query);
    const messages = await readDdlMessages();
    expect(messages.map((m) => [m.type, m.event?.tag, m.context.query])).toEqual([
      ['ddlStart', undefined, query],
      ['ddlUpdate', 'CREATE TABLE', query],
      ['ddlStart', undefined, query],
      ['ddlUpdate', 'CREATE INDEX', query],
    ]);
    expect(messages[1]!.schema).toEqual(messages[2]!.schema);
    await runDdl('DROP TABLE pair');
  });

  test('the ddlUpdate schema describes the table', async () => {
    const [, update] = await runDdl('CREATE TABLE labels (id text PRIMARY KEY, n int8 NOT NULL)');
    expect(update!.schema.tables).toMatchObject([
      {
        schema: 'public',
        name: 'labels',
        primaryKey: ['id'],
        replicaIdentity: 'd',
        publications: {zapp_pub: {rowFilter: null}},
        columns: {
          id: {pos: 1, dataType: 'text', notNull: true},
          n: {pos: 2, dataType: 'int8', notNull: true},
        },
      },
    ]);
    await runDdl('DROP TABLE labels');
  });

  test('DDL that leaves the published schema unchanged emits only ddlStart', async () => {
    for (const query of [
      'CREATE TABLE other.hidden (id int4 PRIMARY KEY)',
      'ALTER TABLE other.hidden ADD COLUMN x text',
      'CREATE INDEX hidden_x ON other.hidden (x)',
      'ALTER PUBLICATION unrelated_pub ADD TABLE other.hidden',
      'DROP TABLE other.hidden',
    ]) {
      const messages = await runDdl(query);
      expect(messages.map((m) => m.type)).toEqual(['ddlStart']);
    }
  });

  test('publishing a table is an ALTER PUBLICATION update', async () => {
    await runDdl('CREATE TABLE other.later (id int4 PRIMARY KEY)');
    const [, update] = await runDdl('ALTER PUBLICATION zapp_pub ADD TABLE other.later');
    expect(update?.event).toEqual({tag: 'ALTER PUBLICATION'});
    expect(update?.schema.tables.map((t) => `${t.schema}.${t.name}`)).toEqual(['other.later']);
    const [, renamed] = await runDdl('ALTER SCHEMA other RENAME TO elsewhere');
    expect(renamed?.event).toEqual({tag: 'ALTER SCHEMA'});
    expect(renamed?.schema.tables.map((t) => `${t.schema}.${t.name}`)).toEqual(['elsewhere.later']);
    await runDdl('ALTER SCHEMA elsewhere RENAME TO other');
    await runDdl('DROP TABLE other.later');
  });

  test('messages are transactional: rolled-back DDL leaves none', async () => {
    await db.sql
      .begin(async (tx) => {
        await tx`CREATE TABLE doomed (id int4 PRIMARY KEY)`;
        throw new Error('roll back');
      })
      .catch(() => {});
    expect(await readDdlMessages()).toEqual([]);
  });

  test('a user without rights on the shard schema can still run DDL', async () => {
    await db.sql.unsafe(`
      CREATE ROLE app_owner NOLOGIN;
      GRANT CREATE ON SCHEMA public TO app_owner;
    `);
    await db.sql.begin(async (tx) => {
      await tx`SET LOCAL ROLE app_owner`;
      await tx`CREATE TABLE owned (id int4 PRIMARY KEY)`;
      await tx`DROP TABLE owned`;
    });
    expect((await readDdlMessages()).map((m) => [m.type, m.event?.tag])).toEqual([
      ['ddlStart', undefined],
      ['ddlUpdate', 'CREATE TABLE'],
      ['ddlStart', undefined],
      ['ddlUpdate', 'DROP TABLE'],
    ]);
  });

  test('each shard emits with its own prefix and publications', async () => {
    await db.sql`CREATE PUBLICATION other_pub FOR TABLES IN SCHEMA other`;
    const other = {appID: 'zapp', shardNum: 4, publications: ['other_pub']};
    await installDdlTriggers(db.sql, other);
    try {
      await db.sql`CREATE TABLE other.t4 (id int4 PRIMARY KEY)`;
      const messages = await readMessages();
      const summary = messages
        .filter((m) => m.prefix.startsWith('zapp/'))
        .map((m) => [m.prefix, JSON.parse(m.content).type]);
      expect(summary.filter(([prefix]) => prefix === 'zapp/4')).toEqual([
        ['zapp/4', 'ddlStart'],
        ['zapp/4', 'ddlUpdate'],
      ]);
      expect(summary.filter(([prefix]) => prefix === 'zapp/3')).toEqual([['zapp/3', 'ddlStart']]);
    } finally {
      await dropDdlTriggers(db.sql, other);
      await db.sql`DROP TABLE other.t4`;
    }
  });
});

describe('without event trigger privileges', () => {
  test('installing reports degraded mode and creates nothing', async () => {
    await db.sql.unsafe(`
      CREATE ROLE no_super NOLOGIN;
      GRANT CREATE ON DATABASE "${db.name}" TO no_super;
    `);
    const config = {appID: 'weak', shardNum: 0, publications: ['zapp_pub']};
    const result = await db.sql.begin(async (tx) => {
      await tx`SET LOCAL ROLE no_super`;
      return installDdlTriggers(tx, config);
    });
    expect(result).toEqual({ddlDetection: false});
    const [counts] = await db.sql<{triggers: number; schemas: number}[]>`
      SELECT (SELECT count(*)::int4 FROM pg_event_trigger WHERE evtname LIKE 'weak_%') AS triggers,
             (SELECT count(*)::int4 FROM pg_namespace WHERE nspname = 'weak_0') AS schemas`;
    expect(counts).toEqual({triggers: 0, schemas: 0});
  });
});

describe('dropping', () => {
  test('removes triggers and functions; DDL then emits nothing; dropping again is a no-op', async () => {
    await installDdlTriggers(db.sql, shard);
    await dropDdlTriggers(db.sql, shard);
    await dropDdlTriggers(db.sql, shard);
    await dropDdlTriggers(db.sql, {appID: 'never', shardNum: 9});
    await readMessages();
    await db.sql`CREATE TABLE after_drop (id int4 PRIMARY KEY)`;
    expect(await readDdlMessages()).toEqual([]);
    const [functions] = await db.sql<{n: number}[]>`
      SELECT count(*)::int4 AS n FROM pg_proc WHERE pronamespace = 'zapp_3'::regnamespace`;
    expect(functions?.n).toBe(0);
  });

  test('invalid shard IDs and empty publication lists are refused with a hint', async () => {
    await expect(installDdlTriggers(db.sql, {...shard, appID: 'Bad-App'})).rejects.toThrow(
      /App ID "Bad-App" is invalid: use only a-z, 0-9 and _/,
    );
    await expect(installDdlTriggers(db.sql, {...shard, publications: []})).rejects.toThrow(
      /needs at least one publication/,
    );
  });
});
