import type postgres from 'postgres';
import type {ZeroConfig} from '../config/index.js';
import {CrudMutations, MutationRateLimit} from '../crud/index.js';
import {EndpointAllowList} from '../custom/endpoint-url.js';
import {PushForwarder} from '../custom/push-forwarder.js';
import type {QueryTransformer} from '../custom/query-transformer.js';
import {ProtocolError} from '../protocol/sync-errors.js';
import {openReplica, type ReplicaDb, type RowChangeWindow} from '../replica/index.js';
import {shardSchema} from '../replication/shard-names.js';
import type {Logger} from '../shared/log.js';
import {CVRStore} from '../view-syncer/cvr-store.js';
import {GroupWrites} from '../view-syncer/group-writes.js';
import {MutationResults} from '../view-syncer/mutation-results.js';
import type {SliceScheduler} from '../view-syncer/slice-scheduler.js';
import {ViewSyncer} from '../view-syncer/view-syncer.js';

/**
 * The client groups of one sync worker: for each, its ViewSyncer (reads: CVR, pipelines, pokes)
 * and its GroupWrites (pushes to the API server, mutation results), created on the group's first
 * connection and stopped IDLE_STOP_MS after its last client left (fact sheet §10.3).
 */
const IDLE_STOP_MS = 5000;

export interface ClientGroup {
  syncer: ViewSyncer;
  writes: GroupWrites;
}

export interface ClientGroupsDeps {
  config: ZeroConfig;
  log: Logger;
  cvrDb: postgres.Sql;
  upstream: postgres.Sql;
  transformer: QueryTransformer | undefined;
  recentChanges: RowChangeWindow;
  slices: SliceScheduler;
}

export class ClientGroups {
  readonly #d: ClientGroupsDeps;
  readonly #groups = new Map<string, ClientGroup>();
  readonly #idleTimers = new Map<string, NodeJS.Timeout>();
  readonly #pushEndpoint: EndpointAllowList;
  /** Read-only, for the write-permission checks of CRUD mutations; opened on first use. */
  #crudReplica: ReplicaDb | undefined;

  constructor(deps: ClientGroupsDeps) {
    this.#d = deps;
    this.#pushEndpoint = new EndpointAllowList('ZERO_MUTATE_URL', deps.config.mutate.url ?? []);
  }

  get size(): number {
    return this.#groups.size;
  }

  /**
   * The group, created if it is new or stopped; a pending idle stop is cancelled. A group that
   * stopped because another instance took it over is replaced, not reused: it would answer every
   * new connection with Rehome, and a client that keeps landing here would never be served.
   */
  get(clientGroupID: string): ClientGroup {
    clearTimeout(this.#idleTimers.get(clientGroupID));
    let g = this.#groups.get(clientGroupID);
    if (!g || g.syncer.stopped) {
      g = this.#create(clientGroupID);
      this.#groups.set(clientGroupID, g);
    }
    return g;
  }

  /** After a client left: stop the group once it has had no client for IDLE_STOP_MS. */
  releaseIfIdle(clientGroupID: string): void {
    clearTimeout(this.#idleTimers.get(clientGroupID));
    const timer = setTimeout(() => {
      const g = this.#groups.get(clientGroupID);
      if (g && g.syncer.clientCount === 0) {
        g.syncer.stop();
        this.#groups.delete(clientGroupID);
      }
    }, IDLE_STOP_MS);
    this.#idleTimers.set(clientGroupID, timer.unref());
  }

  all(): IterableIterator<[string, ClientGroup]> {
    return this.#groups.entries();
  }

  /**
   * Closes every client's socket (no error message: the clients reconnect, elsewhere or here once
   * back), then stops every group. Closing first matters: work still in flight may fail as the
   * worker's databases close, and an error sent to a client would stop it from reconnecting.
   */
  stopAll(): void {
    for (const t of this.#idleTimers.values()) clearTimeout(t);
    for (const g of this.#groups.values()) {
      for (const c of [...g.syncer.connectedClients()]) c.close();
      g.syncer.stop();
    }
    this.#groups.clear();
    this.#crudReplica?.close();
    this.#crudReplica = undefined;
  }

  #create(clientGroupID: string): ClientGroup {
    const {config, log} = this.#d;
    const shard = {appID: config.app.id, shardNum: config.shard.num};
    const syncer = new ViewSyncer({
      clientGroupID,
      replicaFile: config.replica.file,
      store: new CVRStore(this.#d.cvrDb, shard, clientGroupID, config.taskID, {
        asyncCommit: config.cvr.asyncCommit,
      }),
      appID: config.app.id,
      shardSchema: shardSchema(shard),
      log,
      yieldThresholdMs: config.yieldThresholdMs,
      transformer: this.#d.transformer,
      retransformIntervalMs: config.auth.retransformIntervalSeconds * 1000,
      cookiesForwarded: config.query.forwardCookies || config.mutate.forwardCookies,
      recentChanges: this.#d.recentChanges,
      slices: this.#d.slices,
      maxQueries: config.maxQueriesPerClientGroup,
      maxQueryRecords: config.maxQueryRecordsPerClientGroup,
      astLimits: {
        maxDepth: config.maxAstDepth,
        maxNodes: config.maxAstNodes,
        maxInListLength: config.maxInListLength,
      },
      inspector: {
        adminPassword: config.adminPassword,
        development: process.env.NODE_ENV === 'development',
        serverVersion: config.serverVersion ?? 'zcache',
      },
    });
    const pusher = new PushForwarder(
      {
        endpoint: this.#pushEndpoint,
        apiKey: config.mutate.apiKey,
        forwardCookies: config.mutate.forwardCookies,
        clientHeaders: {of: 'push', allowed: config.mutate.allowedClientHeaders},
        allowedRequestHeaders: config.mutate.allowedRequestHeaders,
        appID: config.app.id,
        shardSchema: shardSchema(shard),
        timeoutMs: config.apiServerTimeoutMs,
        log,
      },
      () =>
        [...syncer.connectedClients()].map((c) => ({
          clientID: c.clientID,
          failPush: (body) => c.close(new ProtocolError(body)),
        })),
    );
    const results = new MutationResults(this.#d.upstream, shardSchema(shard), clientGroupID);
    const {max, windowMs} = config.perUserMutationLimit;
    // ZERO_ENABLE_CRUD_MUTATIONS=false: GroupWrites refuses CRUD pushes.
    const crud =
      config.enableCrudMutations === false
        ? undefined
        : new CrudMutations({
            upstream: this.#d.upstream,
            appID: config.app.id,
            shardSchema: shardSchema(shard),
            clientGroupID,
            replica: () =>
              (this.#crudReplica ??= openReplica(config.replica.file, {readonly: true})),
            limit: max === undefined ? undefined : new MutationRateLimit(max, windowMs),
            customMutators: (config.mutate.url ?? []).length > 0,
            log,
          });
    return {syncer, writes: new GroupWrites(clientGroupID, pusher, crud, results, log)};
  }
}
