import type {ZeroConfig} from '../config/index.js';
import type {Logger} from '../shared/log.js';
import {startChildRuntime, type ChildRuntime} from './child-runtime.js';
import {LatestValueSender} from './latest-value-sender.js';
import {startReplicationNode, type ReplicationNode} from './replication-node.js';

/**
 * The replication child of the supervisor: upstream Postgres → change log → SQLite replica.
 *
 * Contract with the supervisor:
 * - `ready` (with the replica's stateVersion) once initial sync or resume has finished;
 *   `failed` (then exit 1) when it cannot start.
 * - `version-ready` after replicator commits; coalesced, so a busy channel carries only the latest.
 * - On `stop` it closes the replication stream and the replica, then exits 0. On a disconnect
 *   (the supervisor is gone) it does the same, bounded by DISCONNECT_DEADLINE_MS.
 * - When replication fails after startup it logs why and exits 1; the supervisor then stops
 *   everything.
 */

function replicationOptions(config: ZeroConfig, log: Logger) {
  return {
    upstreamUrl: config.upstream.db!,
    changeDbUrl: config.change.db ?? config.upstream.db!,
    replicaFile: config.replica.file,
    shard: {appID: config.app.id, shardNum: config.shard.num},
    appPublications: config.app.publications,
    copyWorkers: config.initialSync.tableCopyWorkers,
    taskID: config.taskID,
    log,
  };
}

async function main(): Promise<void> {
  let node: ReplicationNode | undefined;
  const runtime: ChildRuntime = startChildRuntime({worker: 'replication'}, async () => {
    // Stopped while starting (e.g. during initial sync): exiting is safe, because a replica or
    // change log left half-written is detected and redone on the next start.
    if (!node) return 0;
    await node.stop();
    return 0;
  });
  const {config, log} = runtime;
  if (!config.upstream.db) {
    return runtime.failStartup(new Error('replication child: ZERO_UPSTREAM_DB is not set'));
  }
  try {
    node = await startReplicationNode(replicationOptions(config, log));
  } catch (e) {
    return runtime.failStartup(e);
  }
  const versions = new LatestValueSender<string>((stateVersion, done) => {
    if (!process.connected) return done(null);
    process.send!({type: 'version-ready', stateVersion}, undefined, undefined, done);
  });
  node.replicator.onVersionReady((v) => versions.offer(v));
  await runtime.send({type: 'ready', stateVersion: node.replicator.stateVersion});
  node.done.then(
    () => {},
    (e: Error) => {
      log.error(`replication stopped: ${e.message}`);
      process.exit(1);
    },
  );
}

main().catch((e: unknown) => {
  process.stderr.write(
    `zcache replication child: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
