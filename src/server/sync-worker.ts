import type {Socket} from 'node:net';
import {WebSocketServer} from 'ws';
import {startChildRuntime, type ChildRuntime} from './child-runtime.js';
import type {HandoffMessage, SupervisorToWorker} from './ipc-messages.js';
import {
  getSyncConnectionHandlerFactory,
  type SyncConnectionHandler,
  type SyncConnectionHandlerFactory,
} from './sync-connection-handler.js';
import {completeHandoff, connectionRequest, syncWebSocketServerOptions} from './upgrade-handoff.js';

/**
 * A sync worker process: receives client sockets from the supervisor, completes their WebSocket
 * handshake and gives them to its SyncConnectionHandler.
 *
 * Contract with the supervisor:
 * - The handler is created on the first `version-ready` (the supervisor sends it once the replica
 *   is ready), and the worker answers `ready`; a handler that cannot be created ⇒ `failed`, exit 1.
 * - `version-ready` ⇒ a debug line `version ready: {stateVersion}` and `handler.onVersionReady()`.
 * - `handoff` (with the socket) ⇒ handshake, then `handler.onConnection`. A socket that arrives
 *   before the handler exists or while draining is closed with 1002 and the reason.
 * - Every second, `worker-stats`: the handler's `stats()` and the process's memory, for /statz.
 * - `stop` ⇒ `handler.drain()`, then exit 0. A disconnect (supervisor gone) does the same.
 */
const STATS_INTERVAL_MS = 1000;

export function runSyncWorker(
  workerIndex: number,
  factory: SyncConnectionHandlerFactory = getSyncConnectionHandlerFactory(),
): void {
  const worker = new SyncWorker(workerIndex, factory);
  worker.start();
}

class SyncWorker {
  readonly #index: number;
  readonly #factory: SyncConnectionHandlerFactory;
  #runtime!: ChildRuntime;
  #wss!: WebSocketServer;
  #handler: SyncConnectionHandler | undefined;
  #creating = false;
  #draining = false;

  constructor(index: number, factory: SyncConnectionHandlerFactory) {
    this.#index = index;
    this.#factory = factory;
  }

  start(): void {
    this.#runtime = startChildRuntime(
      {worker: `sync-${this.#index}`},
      () => this.#drain(),
      (message, handle) => this.#onMessage(message, handle),
    );
    try {
      this.#wss = new WebSocketServer(syncWebSocketServerOptions(this.#runtime.config));
    } catch (e) {
      void this.#runtime.failStartup(e);
    }
  }

  #onMessage(message: SupervisorToWorker, handle: unknown): void {
    switch (message.type) {
      case 'version-ready':
        this.#runtime.log.debug(`version ready: ${message.stateVersion}`);
        return this.#onVersionReady();
      case 'handoff':
        return this.#onHandoff(message, handle as Socket | undefined);
    }
  }

  #onVersionReady(): void {
    if (this.#handler) {
      this.#handler.onVersionReady();
    } else if (!this.#creating && !this.#draining) {
      this.#creating = true;
      void this.#createHandler();
    }
    // While the handler is being created, the version it starts at is at least this one.
  }

  async #createHandler(): Promise<void> {
    const {config, log} = this.#runtime;
    try {
      const handler = await this.#factory({config, log, workerIndex: this.#index});
      this.#handler = handler;
      handler.onVersionReady();
      await this.#runtime.send({type: 'ready'});
      this.#reportStats();
    } catch (e) {
      await this.#runtime.failStartup(
        new Error(
          `sync worker ${this.#index} could not start its connection handler: ${e instanceof Error ? e.message : e}`,
        ),
      );
    }
  }

  #onHandoff(message: HandoffMessage, socket: Socket | undefined): void {
    const {log} = this.#runtime;
    if (!socket) {
      // The client closed the connection while it was being handed over.
      log.debug(`sync socket closed during the hand-off: ${message.request.url}`);
      return;
    }
    completeHandoff(
      this.#wss,
      message.request,
      socket,
      (ws, req) => {
        if (this.#draining) throw new Error(`sync worker ${this.#index} is shutting down`);
        if (!this.#handler) throw new Error(`sync worker ${this.#index} is not ready`);
        this.#handler.onConnection(ws, connectionRequest(req));
      },
      log,
    );
  }

  /** Sends the handler's figures and the process's memory to the supervisor every second. */
  #reportStats(): void {
    const timer = setInterval(() => {
      if (this.#draining) return clearInterval(timer);
      const mem = process.memoryUsage();
      const stats = {
        ...this.#handler?.stats?.(),
        memory: {rssBytes: mem.rss, heapUsedBytes: mem.heapUsed},
      };
      void this.#runtime.send({type: 'worker-stats', stats}).catch(() => {});
    }, STATS_INTERVAL_MS);
    timer.unref();
  }

  async #drain(): Promise<number> {
    this.#draining = true;
    const handler = this.#handler;
    if (handler) {
      this.#runtime.log.debug('draining');
      await handler.drain();
    }
    return 0;
  }
}
