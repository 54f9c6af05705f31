import type {ZeroConfig} from '../config/index.js';
import type {Logger} from '../shared/log.js';
import {startChildRuntime, type ChildRuntime} from './child-runtime.js';
import {LatestValueSender} from './latest-value-sender.js';
import {startReplicaFollower} from './replica-follower.js';
import {startReplicationManager} from './replication-manager.js';
import {startReplicationNode} from './replication-node.js';
import type {Replicator} from '../replicator/replicator.js';

/**
 * The replication child of the supervisor. By role:
 * - single node: upstream Postgres → change log → SQLite replica;
 * - replication-manager (ZERO_NUM_SYNC_WORKERS=0): the same, plus the change-streamer endpoint on
 *   ZERO_CHANGE_STREAMER_PORT, the replica's backup and the change-log purge;
 * - view-syncer (ZERO_CHANGE_STREAMER_URI): restore the replica and follow the manager.
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

interface RunningRole {
  replicator: Replicator;
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Starts this process's role; stopping it stops everything it started, in reverse. */
async function startRole(config: ZeroConfig, log: Logger): Promise<RunningRole> {
  if (config.changeStreamer.uri) {
    return startReplicaFollower({
      changeStreamerURI: config.changeStreamer.uri,
      changeStreamerSecret: config.changeStreamer.secret,
      taskID: config.taskID,
      replicaFile: config.replica.file,
      backupEndpoint: config.litestream.endpoint,
      log,
    });
  }
  if (!config.upstream.db) throw new Error('replication child: ZERO_UPSTREAM_DB is not set');
  const managing = config.numSyncWorkers === 0;
  const node = await startReplicationNode({
    ...replicationOptions(config, log),
    purge: managing ? 'external' : 'replica',
    // A single node's replica need not wait for the change log's fsync; the manager's must not
    // run ahead of the log its view-syncers and backups follow.
    replicaFollows: managing ? 'stored' : 'arrivals',
  });
  if (!managing) return node;
  try {
    const services = await startReplicationManager({
      node,
      replicaFile: config.replica.file,
      port: config.changeStreamer.port,
      access: {
        bindAddress: config.changeStreamer.bindAddress,
        secret: config.changeStreamer.secret,
        maxConnections: config.changeStreamer.maxConnections,
        ackTimeoutMs: config.changeStreamer.ackTimeoutMs,
        development: process.env.NODE_ENV === 'development',
      },
      backupURL: config.litestream.backupURL,
      backupEndpoint: config.litestream.endpoint,
      backupPartBytes: config.litestream.multipartSize,
      backupPartConcurrency: config.litestream.multipartConcurrency,
      backupIntervalMs: config.backupIntervalMs,
      changeLogRetentionMs: config.changeLogRetentionMs,
      log,
    });
    return {
      replicator: node.replicator,
      done: node.done,
      async stop() {
        await services.stop();
        await node.stop();
      },
    };
  } catch (e) {
    await node.stop();
    throw e;
  }
}

async function main(): Promise<void> {
  let node: RunningRole | undefined;
  const runtime: ChildRuntime = startChildRuntime({worker: 'replication'}, async () => {
    // Stopped while starting (e.g. during initial sync): exiting is safe, because a replica or
    // change log left half-written is detected and redone on the next start.
    if (!node) return 0;
    await node.stop();
    return 0;
  });
  const {config, log} = runtime;
  try {
    node = await startRole(config, log);
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
