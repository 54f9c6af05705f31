import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {
  startReplicationNode,
  type ReplicationNode,
  type ReplicationNodeOptions,
} from '../../src/server/replication-node.js';
import {createLogger} from '../../src/shared/log.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';

/** A test database plus a replication node over it, replicating into a temporary replica file. */
export interface ReplicationHarness {
  db: TestDatabase;
  replicaFile: string;
  node: ReplicationNode;
  restart(overrides?: Partial<ReplicationNodeOptions>): Promise<ReplicationNode>;
  close(): Promise<void>;
}

export async function startHarness(
  setupSql: string,
  overrides: Partial<ReplicationNodeOptions> = {},
): Promise<ReplicationHarness> {
  const db = await createTestDatabase('repl');
  await db.sql.unsafe(setupSql);
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-replica-'));
  const replicaFile = path.join(dir, 'replica.db');
  const options = (o: Partial<ReplicationNodeOptions>): ReplicationNodeOptions => ({
    upstreamUrl: db.url,
    changeDbUrl: db.url,
    replicaFile,
    shard: {appID: 'zero', shardNum: 0},
    appPublications: [],
    copyWorkers: 3,
    taskID: 'test-task',
    log: createLogger(process.env.ZCACHE_TEST_LOG === '1' ? 'debug' : 'warn'),
    ...overrides,
    ...o,
  });
  const h: ReplicationHarness = {
    db,
    replicaFile,
    node: await startReplicationNode(options({})),
    async restart(o = {}) {
      await h.node.stop();
      h.node = await startReplicationNode(options(o));
      return h.node;
    },
    async close() {
      await h.node.stop();
      await db.drop();
      rmSync(dir, {recursive: true, force: true});
    },
  };
  return h;
}
