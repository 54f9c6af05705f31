import {ANYONE_CAN, createSchema, definePermissions, number, string, table} from '@rocicorp/zero';
import type postgres from 'postgres';

const ledger = table('ledger')
  .columns({seq: number(), counter_id: number(), note: string()})
  .primaryKey('seq');
const counter = table('counter').columns({id: number(), n: number()}).primaryKey('id');

/**
 * The Zero schema of the ledger workload of retrying-ledger-writer.ts (RETRYING_LEDGER_SETUP's
 * `ledger` and `counter`), for real clients. ledger-writer.ts's workload has a `payload` column on
 * `counter` that this schema lacks (multi-node-kill-trials.test.ts declares its own).
 */
export const ledgerSchema = createSchema({tables: [ledger, counter], enableLegacyQueries: true});

/** Deploys permissions that let anyone read `ledgerSchema`'s tables to upstream's zero.permissions. */
export async function allowReadingLedger(sql: postgres.Sql): Promise<void> {
  const permissions = await definePermissions<unknown, typeof ledgerSchema>(ledgerSchema, () => ({
    ledger: {row: {select: ANYONE_CAN}},
    counter: {row: {select: ANYONE_CAN}},
  }));
  await sql`UPDATE zero.permissions SET permissions = ${sql.json(permissions as never)}`;
}
