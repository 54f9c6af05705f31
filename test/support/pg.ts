import {randomBytes} from 'node:crypto';
import postgres from 'postgres';
import {inject} from 'vitest';

/**
 * A fresh database on the test cluster, dropped (with its replication slots) by `drop()`.
 * Each test file makes its own, so files do not see each other's tables, slots or triggers.
 */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** A connection to the database for setting up and checking upstream rows. */
  readonly sql: postgres.Sql;
  drop(): Promise<void>;
}

export async function createTestDatabase(prefix = 'zc'): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase();
  const admin = postgres(adminUrl, {onnotice: () => {}, max: 1});
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = postgres(url, {onnotice: () => {}, max: 4});
  return {
    url,
    name,
    sql,
    async drop() {
      await sql.end({timeout: 1});
      const a = postgres(adminUrl, {onnotice: () => {}, max: 1});
      try {
        await a`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = ${name} AND pid <> pg_backend_pid()`;
        await a`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                WHERE database = ${name} AND NOT active`;
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
