import {existsSync, rmSync} from 'node:fs';
import type postgres from 'postgres';
import {ChangeLog, type ChangeLogState} from '../change-streamer/change-log.js';
import {ChangeStreamer} from '../change-streamer/change-streamer.js';
import {followUpstream} from '../change-streamer/upstream-reconnector.js';
import {installDdlTriggers} from '../replication/ddl-triggers.js';
import {initialSync} from '../replication/initial-sync.js';
import {startPgChangeSource, type ChangeSource} from '../replication/pg-change-source.js';
import {dropOtherSlots, slotConfirmedLsn, slotExists} from '../replication/replication-slot.js';
import {
  ensureShardSchema,
  setReplicaIdentities,
  writeShardConfig,
} from '../replication/shard-schema.js';
import {getPublishedSchema} from '../replication/published-schema.js';
import type {ShardId} from '../replication/shard-names.js';
import {watermarkToLsn} from '../shared/lsn.js';
import {checkUpstream} from '../replication/upstream-check.js';
import {connectPostgres, explainConnectionError} from '../replication/upstream-connection.js';
import {
  createMetaTables,
  openReplica,
  readReplicationConfig,
  readStateVersion,
  type ReplicaDb,
  type ReplicationConfig,
} from '../replica/replica-file.js';
import {ChangeApplier} from '../replicator/change-applier.js';
import {Replicator} from '../replicator/replicator.js';
import type {BackoffOptions} from '../shared/backoff.js';
import type {Logger} from '../shared/log.js';

/**
 * The replication path of one node: upstream Postgres → change log → SQLite replica. Prepares
 * upstream (shard schema, publications, DDL triggers), decides whether the replica can resume or
 * must be synced afresh, then runs the change streamer and the replicator until stopped.
 */
export interface ReplicationNodeOptions {
  upstreamUrl: string;
  changeDbUrl: string;
  replicaFile: string;
  shard: ShardId;
  appPublications: string[];
  copyWorkers: number;
  taskID: string;
  log: Logger;
  /**
   * Who purges the change log: `replica` (single node) purges behind what the local replica has
   * applied; `external` leaves it to the caller (the replication-manager purges behind its backups
   * and its subscribers).
   */
  purge?: 'replica' | 'external';
  /**
   * What the local replicator applies: `stored` transactions (after the change log has them), or
   * `arrivals` (as soon as upstream committed them; single node only — see ChangeStreamer). With
   * arrivals the replica may be ahead of the change log after a crash, which resumes as long as
   * the slot will replay everything after the replica.
   */
  replicaFollows?: 'stored' | 'arrivals';
  /** Back-off of reconnects to upstream and retries against ZERO_CHANGE_DB. */
  retry?: BackoffOptions;
  /** Substitute the upstream change source (tests inject faults here). */
  changeSource?: (opts: {
    slot: string;
    publications: string[];
    after: string;
  }) => Promise<ChangeSource>;
}

export interface ReplicationNode {
  readonly replica: ReplicaDb;
  readonly replicator: Replicator;
  readonly streamer: ChangeStreamer;
  readonly changeLog: ChangeLog;
  readonly replicaVersion: string;
  /** Resolves when replication stops; rejects with the error that stopped it. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export async function startReplicationNode(opts: ReplicationNodeOptions): Promise<ReplicationNode> {
  const log = opts.log.withContext({component: 'replication'});
  const upstream = connectPostgres(opts.upstreamUrl, {max: 3});
  const changeDb =
    opts.changeDbUrl === opts.upstreamUrl ? upstream : connectPostgres(opts.changeDbUrl, {max: 3});
  try {
    await checkUpstream(upstream, opts.upstreamUrl).catch((e) => {
      throw (e as {code?: string}).code
        ? explainConnectionError(e, 'ZERO_UPSTREAM_DB', opts.upstreamUrl)
        : e;
    });
    const {publications} = await ensureShardSchema(upstream, opts.shard, opts.appPublications);
    const {ddlDetection} = await installDdlTriggers(upstream, {...opts.shard, publications});
    if (!ddlDetection)
      log.warn('no privilege to create event triggers: schema changes will require a resync');
    await writeShardConfig(upstream, opts.shard, {publications, ddlDetection});
    const identities = await setReplicaIdentities(
      upstream,
      await getPublishedSchema(upstream, publications),
    );
    if (identities.length) log.info(`set REPLICA IDENTITY USING INDEX on ${identities.join(', ')}`);

    const changeLog = new ChangeLog(changeDb, opts.shard);
    await changeLog.ensureTables().catch((e) => {
      throw (e as {code?: string}).code
        ? explainConnectionError(e, 'ZERO_CHANGE_DB', opts.changeDbUrl)
        : e;
    });
    const {replica, config, state} = await prepareReplica(
      upstream,
      changeLog,
      publications,
      opts,
      log,
    );
    return run(opts, log, {upstream, changeDb, changeLog, replica, config, state, publications});
  } catch (e) {
    await upstream.end({timeout: 1});
    if (changeDb !== upstream) await changeDb.end({timeout: 1});
    throw e;
  }
}

async function prepareReplica(
  upstream: postgres.Sql,
  changeLog: ChangeLog,
  publications: string[],
  opts: ReplicationNodeOptions,
  log: Logger,
): Promise<{replica: ReplicaDb; config: ReplicationConfig; state: ChangeLogState}> {
  let replica = openReplica(opts.replicaFile);
  const config = readReplicationConfig(replica);
  const state = await changeLog.state();
  const reason = await resyncReason(
    upstream,
    changeLog,
    config,
    state,
    publications,
    readStateVersion(replica),
    opts.replicaFollows === 'arrivals',
  );
  if (reason === null) {
    createMetaTables(replica); // adds meta tables that newer versions introduced
    const at = readStateVersion(replica)!;
    const ahead =
      state!.lastWatermark < at
        ? `; ahead of the change log (${state!.lastWatermark}), which upstream will replay`
        : '';
    log.info(`resuming replica ${opts.replicaFile} at ${at} (slot ${config!.slot})${ahead}`);
    return {replica, config: config!, state: state!};
  }
  log.info(`initial sync: ${reason}`);
  replica.close();
  deleteReplicaFiles(opts.replicaFile);
  replica = openReplica(opts.replicaFile);
  const started = Date.now();
  const result = await initialSync(replica, upstream, {
    upstreamUrl: opts.upstreamUrl,
    shard: opts.shard,
    publications,
    copyWorkers: opts.copyWorkers,
    log,
  });
  log.info(
    `initial sync: ${result.rows} rows (${result.bytes} bytes) in ${Date.now() - started} ms`,
  );
  await changeLog.reset(result.replicaVersion, publications, opts.taskID);
  const dropped = await dropOtherSlots(upstream, opts.shard, result.slot);
  if (dropped.length)
    log.info(`dropped replication slots of earlier replicas: ${dropped.join(', ')}`);
  return {replica, config: readReplicationConfig(replica)!, state: (await changeLog.state())!};
}

async function resyncReason(
  upstream: postgres.Sql,
  changeLog: ChangeLog,
  config: ReplicationConfig | null,
  state: ChangeLogState | null,
  publications: string[],
  stateVersion: string | null,
  replicaMayLeadLog: boolean,
): Promise<string | null> {
  if (!config || !stateVersion) return 'no replica yet';
  if (JSON.stringify(config.publications) !== JSON.stringify(publications))
    return 'the publications changed';
  if (!(await slotExists(upstream, config.slot))) return `replication slot ${config.slot} is gone`;
  if (!state || state.replicaVersion !== config.replicaVersion)
    return 'the change log belongs to another replica';
  if (!(await changeLog.coversAfter(stateVersion)))
    // E.g. a power loss took the replica's last transactions, or an older copy was restored,
    // after the log was purged past them: resuming would skip them for good.
    return `the replica (at ${stateVersion}) is older than the change log reaches back`;
  if (state.lastWatermark < stateVersion) {
    // Resumable only if upstream replays every transaction after the replica: the slot has not
    // been acked past it (it is acked only for stored transactions, so it cannot have been).
    const confirmed = await slotConfirmedLsn(upstream, config.slot);
    if (!replicaMayLeadLog || confirmed === null || confirmed > watermarkToLsn(stateVersion))
      return 'the change log is behind the replica';
  }
  return null;
}

export function deleteReplicaFiles(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    if (existsSync(f)) rmSync(f);
  }
}

function run(
  opts: ReplicationNodeOptions,
  log: Logger,
  s: {
    upstream: postgres.Sql;
    changeDb: postgres.Sql;
    changeLog: ChangeLog;
    replica: ReplicaDb;
    config: ReplicationConfig;
    state: ChangeLogState;
    publications: string[];
  },
): ReplicationNode {
  const abort = new AbortController();
  const streamer = new ChangeStreamer(s.changeLog, s.state.lastWatermark, log, {
    signal: abort.signal,
    retry: opts.retry,
  });
  const applier = new ChangeApplier(s.replica, readStateVersion(s.replica)!);
  let lastPurge = 0;
  const replicator: Replicator = new Replicator(s.replica, applier, log, {
    onCommit: () => {
      // Single node: the change log is needed only up to what the replica holds durably (what
      // it has merely applied can be lost to a power loss, and must then be replayed).
      const durable = replicator.durableVersion;
      if (opts.purge === 'external' || !durable || Date.now() - lastPurge < 30_000) return;
      lastPurge = Date.now();
      s.changeLog.purgeBefore(durable).catch((e) => log.warn('change log purge failed', e));
    },
  });
  const sourceFactory =
    opts.changeSource ??
    ((o) =>
      startPgChangeSource({
        upstreamUrl: opts.upstreamUrl,
        upstream: s.upstream,
        shard: opts.shard,
        log,
        ...o,
      }));
  // Lost upstream connections are retried; only what retrying cannot fix ends `streaming`.
  const streaming = followUpstream({
    streamer,
    openSource: (after) =>
      sourceFactory({slot: s.config.slot, publications: s.publications, after}),
    log,
    signal: abort.signal,
    retry: opts.retry,
  });
  const replicating = replicator.run(
    opts.replicaFollows === 'arrivals'
      ? streamer.subscribeArrivals(applier.stateVersion, abort.signal)
      : streamer.subscribe(applier.stateVersion, abort.signal),
  );
  let stopping = false;
  const done = Promise.race([streaming, replicating]).then(
    () => {
      if (!stopping) throw new Error('replication: the upstream stream ended unexpectedly');
    },
    (e) => {
      if (!stopping) throw e;
    },
  );
  const stop = async () => {
    stopping = true;
    abort.abort(); // closes the current source, ends retries and the replicator's subscription
    await Promise.allSettled([streaming, replicating]);
    s.replica.close();
    await s.upstream.end({timeout: 2});
    if (s.changeDb !== s.upstream) await s.changeDb.end({timeout: 2});
  };
  done.catch(() => {});
  return {
    replica: s.replica,
    replicator,
    streamer,
    changeLog: s.changeLog,
    replicaVersion: s.config.replicaVersion,
    done,
    stop,
  };
}
