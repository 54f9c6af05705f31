import {createRequire} from 'node:module';
import {copyOnWorkerThread, ReplicaBackupLoop, S3ObjectStore} from '../backup/index.js';
import {ChangeLogPurger} from '../change-streamer/change-log-purger.js';
import {RetentionWindow} from '../change-streamer/retention-window.js';
import {ChangeStreamServer} from '../change-streamer/change-stream-server.js';
import {openReplica} from '../replica/replica-file.js';
import type {Logger} from '../shared/log.js';
import type {ReplicationNode} from './replication-node.js';

/**
 * What a replication-manager (ZERO_NUM_SYNC_WORKERS=0, no ZERO_CHANGE_STREAMER_URI) runs beside
 * its replication node: the change-streamer endpoint for view-syncers, the backup of its replica
 * to ZERO_LITESTREAM_BACKUP_URL, and the change-log purge that both of those bound.
 *
 * Without a backup URL view-syncers cannot restore (their /snapshot requests are refused), and
 * the change log is purged behind the connected subscribers only.
 */
export interface ReplicationManagerOptions {
  node: ReplicationNode;
  replicaFile: string;
  port: number;
  /** Who may use the change-streamer port, and how long a silent view-syncer is waited on. */
  access: ChangeStreamAccess;
  backupURL?: string | undefined;
  backupEndpoint?: string | undefined;
  /** ZERO_LITESTREAM_MULTIPART_SIZE: a snapshot larger than this is uploaded in parts this size. */
  backupPartBytes?: number | undefined;
  /** ZERO_LITESTREAM_MULTIPART_CONCURRENCY. */
  backupPartConcurrency?: number | undefined;
  backupIntervalMs: number;
  /** ZCACHE_CHANGE_LOG_RETENTION_MS: how long the log keeps transactions for absent view-syncers. */
  changeLogRetentionMs: number;
  log: Logger;
}

export interface ChangeStreamAccess {
  /** ZCACHE_CHANGE_STREAMER_BIND_ADDRESS; unset: every interface. */
  bindAddress?: string | undefined;
  /** ZCACHE_CHANGE_STREAMER_SECRET; unset (outside development) logs a warning. */
  secret?: string | undefined;
  maxConnections: number;
  ackTimeoutMs: number;
  development: boolean;
}

export interface ReplicationManagerServices {
  readonly port: number;
  readonly server: ChangeStreamServer;
  readonly backups: ReplicaBackupLoop | undefined;
  stop(): Promise<void>;
}

export async function startReplicationManager(
  o: ReplicationManagerOptions,
): Promise<ReplicationManagerServices> {
  const log = o.log.withContext({component: 'replication-manager'});
  // A connection of its own: each backup copies the replica in one read transaction.
  const backupDb = o.backupURL ? openReplica(o.replicaFile, {readonly: true}) : undefined;
  const backups = backupDb
    ? new ReplicaBackupLoop({
        store: new S3ObjectStore({
          backupURL: o.backupURL!,
          endpoint: o.backupEndpoint,
          partBytes: o.backupPartBytes,
          partConcurrency: o.backupPartConcurrency,
        }),
        db: backupDb,
        // Copying a large replica takes seconds: off this thread, replication goes on meanwhile.
        backup: {
          copy: copyOnWorkerThread(createRequire(import.meta.url).resolve('better-sqlite3')),
        },
        intervalMs: o.backupIntervalMs,
        log,
      })
    : undefined;
  const latestBackup = () => backups?.lastManifest?.watermark;
  // The server asks for a purge as soon as it drops a silent view-syncer; the purger asks the
  // server what its view-syncers still need (only once the server exists: its first run is later).
  const retention = new RetentionWindow(o.changeLogRetentionMs);
  const purger = new ChangeLogPurger(
    o.node.changeLog,
    {
      // Without backups nobody restores: only the connected subscribers bound the purge.
      latestBackup: backups ? latestBackup : () => o.node.replicator.stateVersion,
      replicaDurable: () => o.node.replicator.durableVersion,
      retained: () => {
        retention.note(o.node.streamer.lastStored, Date.now());
        return retention.bound(Date.now());
      },
      oldestNeeded: () => server.oldestNeeded(),
    },
    log,
  );
  const server = new ChangeStreamServer({
    port: o.port,
    host: o.access.bindAddress,
    secret: o.access.secret,
    maxConnections: o.access.maxConnections,
    ackTimeoutMs: o.access.ackTimeoutMs,
    development: o.access.development,
    onDropped: () => void purger.purgeNow().catch(() => {}),
    streamer: o.node.streamer,
    changeLog: o.node.changeLog,
    replicaVersion: o.node.replicaVersion,
    backupURL: o.backupURL,
    latestBackupWatermark: latestBackup,
    log,
  });
  const port = await server.listen().catch((e: unknown) => {
    purger.stop();
    throw e;
  });
  backups?.start();
  log.info(
    `change-streamer listening on ${o.access.bindAddress ?? 'every interface'}, port ${port}` +
      (o.backupURL ? `; backing up the replica to ${o.backupURL}` : '; no backup URL set'),
  );
  return {
    port,
    server,
    backups,
    async stop() {
      purger.stop();
      await backups?.stop();
      backupDb?.close();
      await server.close();
    },
  };
}
