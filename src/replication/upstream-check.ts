import type postgres from 'postgres';
import {describeUrl} from './upstream-connection.js';

/**
 * Checks that upstream Postgres can be replicated from (fact sheet §4.1): version ≥ 15,
 * wal_level = logical, and a role allowed to replicate. Each failure says what to change.
 */
export async function checkUpstream(sql: postgres.Sql, url: string): Promise<void> {
  const where = describeUrl(url);
  const [v] = await sql<{version: string; wal_level: string}[]>`
    SELECT current_setting('server_version_num') AS version, current_setting('wal_level') AS wal_level`;
  const version = Number(v!.version);
  if (version < 150000) {
    throw new Error(
      `upstream Postgres at ${where} is version ${Math.floor(version / 10000)}; zcache needs Postgres 15 or newer.`,
    );
  }
  if (v!.wal_level !== 'logical') {
    throw new Error(
      `upstream Postgres at ${where} has wal_level=${v!.wal_level}; zcache needs wal_level=logical. ` +
        "Run ALTER SYSTEM SET wal_level = 'logical' (or set it in postgresql.conf) and restart Postgres.",
    );
  }
  const [role] = await sql<{rolreplication: boolean; rolsuper: boolean}[]>`
    SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user`;
  if (role && !role.rolreplication && !role.rolsuper) {
    try {
      await sql`ALTER ROLE current_user WITH REPLICATION`;
    } catch (e) {
      throw new Error(
        `upstream Postgres at ${where}: the role lacks the REPLICATION attribute and could not grant it ` +
          `(${(e as Error).message}). Run ALTER ROLE <user> WITH REPLICATION as a superuser.`,
      );
    }
  }
}
