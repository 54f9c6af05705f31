import {randomBytes} from 'node:crypto';
import postgres from 'postgres';

/**
 * A fresh database with a random name on a cluster, dropped (with its replication slots) by
 * `drop()`. Tests (via pg.ts) and benchmarks each make their own, so they never share tables,
 * slots or event triggers.
 */
export interface ScratchDatabase {
  readonly url: string;
  readonly name: string;
  /** A connection to the database for setting up and checking upstream rows. */
  readonly sql: postgres.Sql;
  drop(): Promise<void>;
}

export async function createScratchDatabase(
  adminUrl: string,
  prefix: string,
): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase();
  await withAdmin(adminUrl, (a) => a.unsafe(`CREATE DATABASE "${name}"`));
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
      await withAdmin(adminUrl, async (a) => {
        await a`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = ${name} AND pid <> pg_backend_pid()`;
        await a`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                WHERE database = ${name} AND NOT active`;
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}

async function withAdmin<T>(adminUrl: string, f: (a: postgres.Sql) => Promise<T>): Promise<T> {
  const a = postgres(adminUrl, {onnotice: () => {}, max: 1});
  try {
    return await f(a);
  } finally {
    await a.end();
  }
}
