import type postgres from 'postgres';
import {
  createMetaTables,
  writeReplicationConfig,
  writeStateVersion,
  type ReplicaDb,
} from '../replica/replica-file.js';
import {createIndex, createPrimaryKeyIndex, createTable} from '../replica/table-ddl.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import {lsnToWatermark} from '../shared/lsn.js';
import {getPublishedSchema, type PublishedSchema} from './published-schema.js';
import {createSlotWithSnapshot, dropSlot} from './replication-slot.js';
import {newSlotName, pgIdent, shardSchema, type ShardId} from './shard-names.js';
import {copyTable, type CopyStats} from './table-copier.js';
import {checkSyncableTables} from './table-checks.js';
import {connectPostgres} from './upstream-connection.js';

/**
 * Initial sync: a new replication slot with an exported snapshot, then every published table copied
 * at that snapshot into an empty replica, in parallel. The replica is valid only once its
 * replicationConfig row is written, in the same SQLite transaction as all the rows; a crash before
 * that leaves a replica that the next start discards.
 */
export interface InitialSyncOptions {
  upstreamUrl: string;
  shard: ShardId;
  publications: string[];
  copyWorkers: number;
  log: Logger;
}

export interface InitialSyncResult {
  slot: string;
  replicaVersion: LexiVersion;
  schema: PublishedSchema;
  rows: number;
  bytes: number;
}

export async function initialSync(
  db: ReplicaDb,
  upstream: postgres.Sql,
  opts: InitialSyncOptions,
): Promise<InitialSyncResult> {
  const slot = await createSlotWithSnapshot(opts.upstreamUrl, newSlotName(opts.shard));
  const replicaVersion = lsnToWatermark(slot.consistentPoint);
  const pool = connectPostgres(opts.upstreamUrl, {
    max: opts.copyWorkers,
    applicationName: 'zcache-copy',
  });
  try {
    const schema = await pool.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
      await tx.unsafe(`SET TRANSACTION SNAPSHOT '${slot.snapshotName}'`);
      return getPublishedSchema(tx, opts.publications);
    });
    checkSyncableTables(schema, opts.log);
    opts.log.info(
      `initial sync: copying ${schema.tables.length} tables at ${replicaVersion} (slot ${slot.name})`,
    );

    db.exec('BEGIN');
    createMetaTables(db);
    for (const t of schema.tables) createTable(db, t, replicaVersion);
    const stats = await copyAll(opts.upstreamUrl, slot.snapshotName, schema, db, opts.copyWorkers);
    for (const t of schema.tables) createPrimaryKeyIndex(db, t);
    for (const idx of schema.indexes) createIndex(db, idx);
    writeReplicationConfig(db, {replicaVersion, publications: opts.publications, slot: slot.name});
    writeStateVersion(db, replicaVersion);
    await recordReplica(upstream, opts.shard, slot.name, replicaVersion, schema);
    db.exec('COMMIT');
    return {slot: slot.name, replicaVersion, schema, ...stats};
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    await slot.release();
    await dropSlot(upstream, slot.name).catch(() => {});
    throw e;
  } finally {
    await slot.release();
    await pool.end({timeout: 5});
  }
}

async function copyAll(
  upstreamUrl: string,
  snapshot: string,
  schema: PublishedSchema,
  db: ReplicaDb,
  workers: number,
): Promise<CopyStats> {
  const queue = [...schema.tables];
  const total: CopyStats = {rows: 0, bytes: 0};
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const s = await copyTable(upstreamUrl, snapshot, t, db);
      total.rows += s.rows;
      total.bytes += s.bytes;
    }
  };
  await Promise.all(Array.from({length: Math.max(1, Math.min(workers, queue.length))}, worker));
  return total;
}

async function recordReplica(
  sql: postgres.Sql,
  shard: ShardId,
  slot: string,
  version: LexiVersion,
  schema: PublishedSchema,
): Promise<void> {
  await sql.unsafe(
    `INSERT INTO ${pgIdent(shardSchema(shard))}."replicas" ("slot", "version", "initialSchema") VALUES ($1, $2, $3)`,
    [slot, version, JSON.stringify(schema)],
  );
}
