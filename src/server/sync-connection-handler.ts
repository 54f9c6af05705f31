import type {IncomingHttpHeaders} from 'node:http';
import type {WebSocket} from 'ws';
import type {ZeroConfig} from '../config/index.js';
import {ErrorKind, ErrorOrigin} from '../protocol/sync-errors.js';
import type {Logger} from '../shared/log.js';

/**
 * The seam between the process plumbing (server/) and the sync logic (the view-syncer): a sync
 * worker hands every upgraded client socket to one SyncConnectionHandler.
 *
 * Plugging in: the worker entry (`sync-worker-process.ts`) creates its handler with the factory
 * registered through {@link setSyncConnectionHandlerFactory} (the default one below until then);
 * register yours there, before the worker starts, e.g.
 * `setSyncConnectionHandlerFactory((ctx) => createViewSyncerHandler(ctx))`.
 */

/** What the worker knows about the upgrade request. */
export interface SyncConnectionRequest {
  /** The request URL (path and query as the client sent them) on a placeholder origin. */
  url: URL;
  headers: IncomingHttpHeaders;
  /** The raw `Sec-WebSocket-Protocol` value (already echoed in the handshake), if any. */
  protocolHeader: string | undefined;
}

/**
 * Handles the sync sockets of one worker process. Contract:
 * - The factory is called once per worker, after the replica is ready (initial sync or resume
 *   finished); `onVersionReady` follows right away for the replica's version at that time.
 * - `onConnection` gets sockets whose path, query parameters and protocol header already parsed
 *   (fact sheet §1.1–1.3); the protocol version range (§1.4) is the handler's to check. The same
 *   client group always reaches the same worker. A synchronous throw closes the socket with 1002
 *   and the error as reason.
 * - `onVersionReady` is called after replicator commits, coalesced: several commits may produce
 *   one call. Readers look at the replica for the version itself.
 * - `drain` is called once, on graceful shutdown, when no more sockets will arrive; it resolves when
 *   the handler's clients are closed (or handed off) and its resources released. The worker exits
 *   after it.
 */
export interface SyncConnectionHandler {
  onConnection(ws: WebSocket, request: SyncConnectionRequest): void;
  onVersionReady(): void;
  drain(): Promise<void>;
  /** Figures for /statz (JSON-serializable); cheap enough to call every second. */
  stats?(): Record<string, unknown>;
}

export interface SyncConnectionHandlerContext {
  config: ZeroConfig;
  log: Logger;
  /** This worker's index in 0..numSyncWorkers-1 (the dispatch hash picks it). */
  workerIndex: number;
}

export type SyncConnectionHandlerFactory = (
  context: SyncConnectionHandlerContext,
) => SyncConnectionHandler | Promise<SyncConnectionHandler>;

/**
 * The placeholder until the view-syncer exists: answers every socket with an `Internal` error
 * naming the worker (index and pid, so that tests can see where a socket landed), then closes.
 */
export const defaultSyncConnectionHandlerFactory: SyncConnectionHandlerFactory = ({
  workerIndex,
}) => ({
  onConnection(ws) {
    const body = {
      kind: ErrorKind.Internal,
      message: `sync is not available yet (sync worker ${workerIndex}, pid ${process.pid})`,
      origin: ErrorOrigin.ZeroCache,
    };
    ws.send(JSON.stringify(['error', body]));
    ws.close();
  },
  onVersionReady() {},
  drain: () => Promise.resolve(),
});

let registeredFactory: SyncConnectionHandlerFactory = defaultSyncConnectionHandlerFactory;

/** Registers the factory sync workers use from now on (call it in the worker process). */
export function setSyncConnectionHandlerFactory(factory: SyncConnectionHandlerFactory): void {
  registeredFactory = factory;
}

export function getSyncConnectionHandlerFactory(): SyncConnectionHandlerFactory {
  return registeredFactory;
}
