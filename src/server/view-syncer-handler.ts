import type {WebSocket} from 'ws';
import {
  decodeSecProtocols,
  isSupportedProtocolVersion,
  parseConnectParams,
  parseConnectPath,
  versionNotSupportedError,
} from '../protocol/sync-connect.js';
import {connectPostgres} from '../replication/upstream-connection.js';
import {shardSchema} from '../replication/shard-names.js';
import {QueryTransformer} from '../custom/query-transformer.js';
import {ClientConnection} from '../view-syncer/client-connection.js';
import {ensureCVRSchema} from '../view-syncer/cvr-schema.js';
import {purgeInactive} from '../view-syncer/cvr-store.js';
import {tokenRefusal, tokenVerifierFrom} from '../view-syncer/token-verifier.js';
import type {ProtocolError} from '../protocol/sync-errors.js';
import {retryWhileTransient, seconds} from '../shared/backoff.js';
import {connectionLossReason, isConnectionLoss} from '../shared/connection-loss.js';
import {ClientGroups} from './client-groups.js';
import {ConnectionAdmission} from './connection-admission.js';
import {SliceScheduler} from '../view-syncer/slice-scheduler.js';
import {openReplica, RowChangeWindow} from '../replica/index.js';
import type {
  SyncConnectionHandler,
  SyncConnectionHandlerContext,
  SyncConnectionRequest,
} from './sync-connection-handler.js';

/**
 * The sync worker's connection handler: accepts each socket (protocol version, token, the limit
 * of clients per group) and gives it to its client group (see ClientGroups), and passes every
 * "version ready" signal to all groups.
 */

/**
 * CVR garbage collection (fact sheet §3.5), run by worker 0: every interval (doubling while there
 * is nothing to purge, up to 16 minutes) groups inactive longer than the threshold are purged in
 * batches. A batch size of 0 disables it.
 */
function startCVRGarbageCollection(
  {config, log}: SyncConnectionHandlerContext,
  cvrDb: ReturnType<typeof connectPostgres>,
  shard: {appID: string; shardNum: number},
): () => void {
  const batch = config.cvr.garbageCollectionInitialBatchSize;
  if (batch <= 0) return () => {};
  const initialMs = config.cvr.garbageCollectionInitialIntervalSeconds * 1000;
  const olderThanMs = config.cvr.garbageCollectionInactivityThresholdHours * 3600 * 1000;
  let intervalMs = initialMs;
  let timer: NodeJS.Timeout;
  const run = async () => {
    const purged = await purgeInactive(cvrDb, shard, olderThanMs, batch).catch((e: Error) => {
      log.warn(`CVR garbage collection failed: ${e.message}`);
      return 0;
    });
    if (purged > 0) log.info(`CVR garbage collection purged ${purged} inactive client groups`);
    intervalMs = purged > 0 ? initialMs : Math.min(intervalMs * 2, 16 * 60 * 1000);
    timer = setTimeout(run, intervalMs).unref();
  };
  timer = setTimeout(run, intervalMs).unref();
  return () => clearTimeout(timer);
}

export async function createViewSyncerHandler(
  ctx: SyncConnectionHandlerContext,
): Promise<SyncConnectionHandler> {
  const {config, log} = ctx;
  const shard = {appID: config.app.id, shardNum: config.shard.num};
  const cvrDb = connectPostgres(config.cvr.db ?? config.upstream.db!, {
    max: Math.max(2, config.cvr.maxConnsPerWorker ?? 5),
  });
  // A CVR database away at start (restarting, not up yet) delays this worker, not the process.
  await retryWhileTransient(() => ensureCVRSchema(cvrDb, shard), {
    isTransient: isConnectionLoss,
    describe: (e, wait, n) =>
      `sync worker ${ctx.workerIndex}: ZERO_CVR_DB unreachable (${connectionLossReason(e)}): ` +
      `retrying in ${seconds(wait)} (attempt ${n}); the worker takes no clients until then`,
    warn: (m) => log.warn(m),
  });
  const queryURL = config.query.url?.[0];
  const transformer = queryURL
    ? new QueryTransformer({
        url: queryURL,
        apiKey: config.query.apiKey,
        forwardCookies: config.query.forwardCookies,
        clientHeaders: {of: 'query', allowed: config.query.allowedClientHeaders},
        allowedRequestHeaders: config.query.allowedRequestHeaders,
        appID: config.app.id,
        shardSchema: shardSchema(shard),
        timeoutMs: config.apiServerTimeoutMs,
        log: log.withContext({component: 'query-transformer'}),
      })
    : undefined;
  const verifier = await tokenVerifierFrom(config.auth);
  const stopGC = ctx.workerIndex === 0 ? startCVRGarbageCollection(ctx, cvrDb, shard) : () => {};
  const recentChanges = new RowChangeWindow(openReplica(config.replica.file, {readonly: true}));
  const slices = new SliceScheduler({yieldThresholdMs: config.yieldThresholdMs});
  const upstream = connectPostgres(config.upstream.db!, {max: 2});
  const admissions = new ConnectionAdmission({
    perWorker: config.maxConnectionsPerSyncWorker,
    perGroup: config.maxClientsPerClientGroup,
  });
  const groups = new ClientGroups({
    config,
    log,
    cvrDb,
    upstream,
    transformer,
    recentChanges,
    slices,
  });

  return {
    onConnection(ws: WebSocket, request: SyncConnectionRequest) {
      const path = parseConnectPath(request.url.pathname);
      const params = parseConnectParams(request.url.searchParams);
      log.debug(
        `sync connection: worker ${ctx.workerIndex} pid ${process.pid} group ${params.clientGroupID} client ${params.clientID}`,
      );
      if (!isSupportedProtocolVersion(path.version)) {
        ws.send(JSON.stringify(['error', versionNotSupportedError(path.version)]));
        ws.close();
        return;
      }
      const header = decodeSecProtocols(request.protocolHeader);
      /** The token's payload (undefined when tokens are not verified), or its AuthInvalidated. */
      const verify = async (token: string | undefined): Promise<unknown> =>
        verifier?.verify(token, params.userID).catch((e: Error) => {
          throw tokenRefusal(e, params.clientID, log);
        });
      const accept = (authData: unknown) => {
        const admission = admissions.tryAdmit(params.clientGroupID);
        if (!admission.admitted) {
          const message = admission.reason;
          ws.send(
            JSON.stringify([
              'error',
              {kind: 'ServerOverloaded', message, minBackoffMs: 1000, origin: 'zeroCache'},
            ]),
          );
          ws.close();
          return;
        }
        if (ws.readyState !== ws.OPEN) return admission.release();
        const {syncer, writes} = groups.get(params.clientGroupID);
        const conn = new ClientConnection(ws, params, path.version, syncer, writes, log);
        ws.on('close', () => {
          admission.release();
          groups.releaseIfIdle(params.clientGroupID);
        });
        conn.start(
          header.initConnectionMessage,
          {
            token: header.authToken,
            cookie: request.headers.cookie,
            requestHeaders: request.headers,
            authData,
          },
          {
            verify,
            revalidate: transformer && ((auth) => transformer.validate(auth)),
            revalidateIntervalMs: config.auth.revalidateIntervalSeconds * 1000,
          },
        );
      };
      if (!verifier) return accept(undefined);
      verify(header.authToken).then(accept, (e: ProtocolError) => {
        ws.send(JSON.stringify(['error', e.body]));
        ws.close(3000, 'Failed to decode JWT');
      });
    },
    onVersionReady() {
      // One read of what changed, for every group, before they decide whether to step.
      try {
        recentChanges.refresh();
      } catch (e) {
        log.warn(`could not read the replica's recent changes (every group steps): ${e}`);
      }
      for (const [, g] of groups.all()) g.syncer.versionReady();
    },
    stats() {
      const perGroup = [...groups.all()].map(([clientGroupID, g]) => ({
        clientGroupID,
        ...g.syncer.stats(),
      }));
      return {
        clientGroups: groups.size,
        clients: perGroup.reduce((n, g) => n + g.clients, 0),
        queries: perGroup.reduce((n, g) => n + g.queries, 0),
        slowestHydrations: perGroup
          .sort((a, b) => b.hydrationMs - a.hydrationMs)
          .slice(0, 5)
          .filter((g) => g.hydrationMs > 0),
        stepsInFlight: slices.shortInFlight,
        replicaVersionSeen: recentChanges.head,
      };
    },
    async drain() {
      stopGC();
      groups.stopAll();
      recentChanges.close();
      await Promise.all([cvrDb.end({timeout: 5}), upstream.end({timeout: 5})]);
    },
  };
}
