import type postgres from 'postgres';
import {lsnToBigInt} from '../shared/lsn.js';
import {connectPostgres} from './upstream-connection.js';
import {pgIdent, slotPrefix, type ShardId} from './shard-names.js';

/**
 * Logical replication slots of one shard in one database. A slot is created with an exported
 * snapshot, which stays valid only while the creating session is open and idle: the caller copies
 * the tables, then calls `release()`.
 */
export interface CreatedSlot {
  name: string;
  consistentPoint: bigint;
  snapshotName: string;
  /** Closes the session that exported the snapshot (the slot itself stays). */
  release(): Promise<void>;
}

export async function createSlotWithSnapshot(url: string, name: string): Promise<CreatedSlot> {
  const repl = connectPostgres(url, {
    max: 1,
    replication: true,
    applicationName: 'zcache-initial-sync',
  });
  try {
    const rows = await repl.unsafe(
      `CREATE_REPLICATION_SLOT ${pgIdent(name)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const r = rows[0] as unknown as {consistent_point: string; snapshot_name: string};
    return {
      name,
      consistentPoint: lsnToBigInt(r.consistent_point),
      snapshotName: r.snapshot_name,
      release: () => repl.end({timeout: 5}),
    };
  } catch (e) {
    await repl.end({timeout: 1});
    const err = e as {code?: string; message?: string};
    if (err.code === '53400') {
      throw new Error(
        `upstream: no free replication slot (${err.message}). Raise max_replication_slots, or drop unused slots.`,
      );
    }
    throw e;
  }
}

/** Slots of this shard in the current database other than `keep`; inactive ones are dropped. */
export async function dropOtherSlots(
  sql: postgres.Sql,
  shard: ShardId,
  keep: string,
): Promise<string[]> {
  const prefix = slotPrefix(shard).replace(/_/g, '\\_') + '%';
  const rows = await sql<{slot_name: string; active_pid: number | null}[]>`
    SELECT slot_name, active_pid FROM pg_replication_slots
    WHERE database = current_database() AND slot_name LIKE ${prefix} AND slot_name <> ${keep}`;
  for (const r of rows) {
    if (r.active_pid !== null) await sql`SELECT pg_terminate_backend(${r.active_pid})`;
    await sql`SELECT pg_drop_replication_slot(${r.slot_name})
              WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${r.slot_name})`.catch(
      () => {},
    );
  }
  return rows.map((r) => r.slot_name);
}

export async function dropSlot(sql: postgres.Sql, name: string): Promise<void> {
  await sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${name}`;
}

/** The slot's confirmed position (upstream replays every transaction that ends after it). */
export async function slotConfirmedLsn(sql: postgres.Sql, name: string): Promise<bigint | null> {
  const [row] = await sql<{lsn: string | null}[]>`
    SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots
     WHERE slot_name = ${name} AND database = current_database()`;
  return row?.lsn ? lsnToBigInt(row.lsn) : null;
}

export async function slotExists(sql: postgres.Sql, name: string): Promise<boolean> {
  const rows =
    await sql`SELECT 1 FROM pg_replication_slots WHERE slot_name = ${name} AND database = current_database()`;
  return rows.length > 0;
}
