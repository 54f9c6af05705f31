import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {spawnZcache, type ZcacheProcess} from '../support/zcache-process.js';

/**
 * A view-syncer SIGKILLed mid-restore leaves its working folder (the downloaded snapshot) beside
 * the replica. The next start removes it before anything else, even while the manager is not
 * reachable yet: here nothing listens at ZERO_CHANGE_STREAMER_URI, so the view-syncer waits.
 */
let db: TestDatabase;
let dir: string;
let proc: ZcacheProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase('restore_leftovers');
  dir = mkdtempSync(path.join(tmpdir(), 'zcache-restore-leftovers-'));
});

afterAll(async () => {
  await proc?.kill();
  await db?.drop();
  if (dir) rmSync(dir, {recursive: true, force: true});
});

test('a starting view-syncer removes the restore folders a killed one left, and nothing else', async () => {
  const leftover = path.join(dir, '.zcache-restore-k1LLed');
  mkdirSync(leftover);
  writeFileSync(path.join(leftover, 'snapshot.db.gz'), Buffer.alloc(64 * 1024, 7));
  writeFileSync(path.join(dir, 'notes.txt'), 'not ours');

  proc = spawnZcache({
    cwd: dir,
    env: {
      ZERO_UPSTREAM_DB: db.url,
      ZERO_REPLICA_FILE: path.join(dir, 'zero.db'),
      ZERO_PORT: String(await freePort()),
      ZERO_CHANGE_STREAMER_URI: `ws://127.0.0.1:${await freePort()}`,
      NODE_ENV: 'development',
      ZERO_LOG_LEVEL: 'info',
    },
  });
  // Logged once the view-syncer went on to reserve a snapshot, so after any removal.
  await proc.waitForLine(/waiting for the replication-manager/, {timeoutMs: 60_000});

  expect(existsSync(leftover), 'the killed restore folder is gone').toBe(false);
  expect(proc.lines.filter((l) => l.includes('interrupted restores')).join('\n')).toContain(
    '.zcache-restore-k1LLed',
  );
  expect(readdirSync(dir).filter((f) => f.startsWith('.zcache-restore-'))).toEqual([]);
  expect(existsSync(path.join(dir, 'notes.txt'))).toBe(true);
}, 120_000);
