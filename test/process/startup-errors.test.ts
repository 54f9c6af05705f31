import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {startEmbeddedPostgres, type RunningPostgres} from '../../src/server/embedded-postgres.js';
import {createLogger} from '../../src/shared/log.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {spawnZcache, type Exit} from '../support/zcache-process.js';

/**
 * A zcache that cannot start says so once, on stderr, naming the problem and what to do, and exits
 * non-zero within seconds, without a stack trace and without touching the upstream database when
 * the configuration itself is wrong.
 */

/** Well within "quickly", well beyond a process start on a loaded 2-core machine. */
const QUICK_MS = 10_000;

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase('starterr');
  await db.sql`CREATE TABLE t (id int PRIMARY KEY)`;
  dir = mkdtempSync(path.join(tmpdir(), 'zcache-starterr-'));
});
afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, {recursive: true, force: true});
});

async function baseEnv(): Promise<Record<string, string>> {
  return {
    ZERO_UPSTREAM_DB: db.url,
    ZERO_REPLICA_FILE: path.join(dir, `replica-${Math.random().toString(36).slice(2)}.db`),
    ZERO_PORT: String(await freePort()),
    NODE_ENV: 'development',
    ZERO_LOG_LEVEL: 'info',
  };
}

interface Failure {
  exit: Exit;
  stderr: string;
  stdout: string;
  ms: number;
}

async function runToExit(
  env: Record<string, string | undefined>,
  args: string[] = [],
): Promise<Failure> {
  const started = Date.now();
  const proc = spawnZcache({env: {...(await baseEnv()), ...env}, args});
  const exit = await proc.waitForExit(30_000);
  return {exit, stderr: proc.stderr, stdout: proc.stdout, ms: Date.now() - started};
}

/**
 * Exit code 1, quickly, nothing on stdout, and stderr is one message naming the problem: a single
 * log line, or the configuration report with exactly one problem. No stack trace, no repeats.
 */
function expectOneClearFailure(f: Failure, problem: RegExp): void {
  const context = `stderr:\n${f.stderr}`;
  expect(f.exit, context).toEqual({code: 1, signal: null});
  expect(f.ms, context).toBeLessThan(QUICK_MS);
  expect(f.stdout, context).toBe('');
  const lines = f.stderr.trimEnd().split('\n');
  const oneLine = lines.length === 1 && /^ERROR /.test(lines[0]!);
  const oneProblem =
    lines.length === 2 &&
    lines[0] === 'Invalid zero-cache configuration (1 problem):' &&
    lines[1]!.startsWith('  - ');
  expect(oneLine || oneProblem, `one message expected; ${context}`).toBe(true);
  expect(lines[lines.length - 1], context).toMatch(problem);
}

async function upstreamUntouched(): Promise<void> {
  const schemas = await db.sql`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'zero%'`;
  const slots = await db.sql`
    SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`;
  expect({schemas, slots}).toEqual({schemas: [], slots: []});
}

describe('configuration errors', () => {
  test('ZERO_PORT=abc names the variable, the value, and the accepted range', async () => {
    const f = await runToExit({ZERO_PORT: 'abc'});
    expectOneClearFailure(f, /ZERO_PORT/);
    expect(f.stderr).toMatch(/"abc"/);
    expect(f.stderr).toMatch(/expected an integer from 1 to 65535/);
    await upstreamUntouched();
  });

  test('ZERO_NUM_SYNC_WORKERS=-1 is out of range, and says what is accepted', async () => {
    const f = await runToExit({ZERO_NUM_SYNC_WORKERS: '-1'});
    expectOneClearFailure(f, /ZERO_NUM_SYNC_WORKERS/);
    expect(f.stderr).toMatch(/-1/);
    expect(f.stderr).toMatch(/out of range; expected an integer of at least 0/);
    await upstreamUntouched();
  });

  test('an unknown command-line flag is named, pointing at --help', async () => {
    const f = await runToExit({}, ['--no-such-flag', 'x']);
    expectOneClearFailure(f, /--no-such-flag/);
    expect(f.stderr).toMatch(/unknown option --no-such-flag.*--help/);
    await upstreamUntouched();
  });

  test('without ZERO_ADMIN_PASSWORD outside development, it asks for the password or NODE_ENV=development', async () => {
    const f = await runToExit({NODE_ENV: undefined});
    expectOneClearFailure(f, /ZERO_ADMIN_PASSWORD/);
    expect(f.stderr).toMatch(/set ZERO_ADMIN_PASSWORD/);
    expect(f.stderr).toMatch(/NODE_ENV=development/);
    await upstreamUntouched();
  });
});

describe('upstream errors', () => {
  test('nothing listening at ZERO_UPSTREAM_DB: "cannot reach", and asks whether Postgres runs', async () => {
    const port = await freePort();
    const f = await runToExit({
      ZERO_UPSTREAM_DB: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    });
    expectOneClearFailure(f, /cannot reach ZERO_UPSTREAM_DB/);
    expect(f.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
    expect(f.stderr).toMatch(/ECONNREFUSED\. Is Postgres running, and is the URL right\?/);
  });

  test('a wrong password: the login was refused, check user and password; the password is not printed', async () => {
    const u = new URL(db.url);
    u.password = 'not-the-password-xyzzy';
    const f = await runToExit({ZERO_UPSTREAM_DB: u.toString()});
    expectOneClearFailure(f, /refused the login/);
    expect(f.stderr).toMatch(/ZERO_UPSTREAM_DB/);
    expect(f.stderr).toMatch(/Check the user and password in the URL/);
    expect(f.stderr).not.toMatch(/xyzzy/);
  });

  test('a database that does not exist is named, with "create the database or fix the URL"', async () => {
    const u = new URL(db.url);
    u.pathname = '/no_such_database_here';
    const f = await runToExit({ZERO_UPSTREAM_DB: u.toString()});
    expectOneClearFailure(f, /no_such_database_here/);
    expect(f.stderr).toMatch(/database "no_such_database_here" does not exist/);
    expect(f.stderr).toMatch(/Create the database or fix the URL/);
  });

  describe('an upstream with wal_level=replica', () => {
    let pgDir: string;
    let pg: RunningPostgres;
    beforeAll(async () => {
      pgDir = mkdtempSync(path.join(tmpdir(), 'zcache-walreplica-'));
      pg = await startEmbeddedPostgres({
        dataDir: pgDir,
        port: await freePort(),
        log: createLogger('error'),
        settings: {wal_level: 'replica', fsync: 'off'},
      });
    });
    afterAll(async () => {
      await pg?.stop();
      if (pgDir) rmSync(pgDir, {recursive: true, force: true});
    });

    test('is refused: needs wal_level=logical, and says how to set it', async () => {
      const f = await runToExit({ZERO_UPSTREAM_DB: pg.url});
      expectOneClearFailure(f, /wal_level=replica/);
      expect(f.stderr).toMatch(/needs wal_level=logical/);
      expect(f.stderr).toMatch(/ALTER SYSTEM SET wal_level = 'logical'.*restart Postgres/);
    });
  });
});

test('zero-cache --help exits 0 and lists ZERO_UPSTREAM_DB', async () => {
  const proc = spawnZcache({args: ['--help'], env: {}});
  const exit = await proc.waitForExit(QUICK_MS);
  expect(exit).toEqual({code: 0, signal: null});
  expect(proc.stdout).toMatch(/ZERO_UPSTREAM_DB/);
  expect(proc.stdout).toMatch(/--upstream-db/);
  expect(proc.stderr).toBe('');
});
