import type http from 'node:http';
import type {ZeroConfig} from '../config/index.js';
import type {Logger} from '../shared/log.js';
import {ChildHandle, childEnvironment, describeExit, type ChildExit} from './child-process.js';
import type {ChildToSupervisor} from './ipc-messages.js';
import {HeartbeatMonitor} from './heartbeat-monitor.js';
import {startHttpServer} from './http-endpoints.js';
import {SyncWorkerPool} from './sync-worker-pool.js';
import {syncWebSocketServerOptions} from './upgrade-handoff.js';

/**
 * The main process of a single node (fact sheet §10.1): owns ZERO_PORT, forks the replication
 * child and ZERO_NUM_SYNC_WORKERS sync workers, routes WebSocket upgrades to the workers and
 * relays "version ready" from replication to them.
 *
 * - Logs `zcache ready: …` once replication has finished its initial sync or resume and every
 *   worker has started.
 * - After a first `/keepalive`, ZCACHE_KEEPALIVE_TIMEOUT_MS without another ⇒ it SIGTERMs itself.
 * - SIGTERM/SIGINT ⇒ graceful: no more upgrades, workers drain and exit, then the replication child
 *   closes its stream and replica; resolves 0. A second signal SIGKILLs the children; resolves 1.
 * - A child that fails to start, or exits unexpectedly ⇒ logged once, every other child is stopped
 *   promptly; resolves 1.
 * Resolves only when every child has exited. Throws (before forking) when the port is taken or the
 * WebSocket options are invalid.
 */
export function runSupervisor(config: ZeroConfig, log: Logger): Promise<number> {
  return new Supervisor(config, log).run();
}

/** How long workers may drain on a graceful stop before they are killed. */
const WORKER_DRAIN_TIMEOUT_MS = 30_000;
/** How long the replication child may take to close its stream and replica. */
const REPLICATION_STOP_TIMEOUT_MS = 10_000;
/** How long children get to exit after a failure (they see their IPC channel close). */
const FAILURE_STOP_TIMEOUT_MS = 6_000;

type Outcome = {mode: 'drain'; code: 0} | {mode: 'fail'; code: 1};

class Supervisor {
  readonly #config: ZeroConfig;
  readonly #log: Logger;
  readonly #pool: SyncWorkerPool;
  #replication: ChildHandle | undefined;
  #replicationReady = false;
  #workersReady = false;
  #announced = false;
  /** A second signal killed the children: the stop was not graceful after all. */
  #forced = false;
  #outcome: Outcome | undefined;
  #settle: (o: Outcome) => void = () => {};

  constructor(config: ZeroConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#pool = new SyncWorkerPool(config, log, {
      onAllReady: () => {
        this.#workersReady = true;
        this.#announceIfReady();
      },
      onFailed: (message) => this.#fail(message),
      onExit: (worker, exit) => this.#onChildExit(worker, exit),
    });
  }

  async run(): Promise<number> {
    syncWebSocketServerOptions(this.#config); // fails here, once, on bad compression options
    const heartbeat = new HeartbeatMonitor(this.#config.keepaliveTimeoutMs, (silentMs) => {
      this.#log.info(`no /keepalive for ${silentMs} ms since the last one: draining and exiting`);
      process.kill(process.pid, 'SIGTERM');
    });
    const server = await startHttpServer(this.#config.port, {
      onUpgrade: this.#pool.handleUpgrade,
      statz: {
        auth: {
          password: this.#config.adminPassword,
          development: process.env.NODE_ENV === 'development',
        },
        report: () => this.#statz(),
      },
      onKeepalive: () => heartbeat.beat(),
    });
    const outcome = new Promise<Outcome>((resolve) => (this.#settle = resolve));
    const removeSignalHandlers = this.#handleSignals();
    try {
      this.#startReplication();
      this.#pool.start();
      if (this.#config.numSyncWorkers === 0) this.#workersReady = true;
      const {mode, code} = await outcome;
      this.#pool.stopAccepting();
      server.close();
      server.closeIdleConnections();
      if (mode === 'drain') await this.#stopGracefully();
      else await this.#stopNow();
      return this.#forced ? 1 : code;
    } finally {
      heartbeat.stop();
      removeSignalHandlers();
      closeServer(server);
    }
  }

  #startReplication(): void {
    const child = new ChildHandle(
      'replication',
      'replication-process',
      [],
      childEnvironment(this.#config),
      (m) => this.#onReplicationMessage(m),
    );
    this.#replication = child;
    void child.exited.then((exit) => this.#onChildExit(child, exit));
  }

  #onReplicationMessage(message: ChildToSupervisor): void {
    switch (message.type) {
      case 'failed':
        return this.#fail(message.message);
      case 'ready':
        this.#replicationReady = true;
        if (message.stateVersion) {
          this.#replicaVersion = message.stateVersion;
          this.#pool.publishVersion(message.stateVersion);
        }
        return this.#announceIfReady();
      case 'version-ready':
        this.#replicaVersion = message.stateVersion;
        return this.#pool.publishVersion(message.stateVersion);
    }
  }

  #replicaVersion: string | undefined;
  readonly #startedAt = Date.now();

  /**
   * What /statz reports: the node's processes, its replica position, its memory, and each sync
   * worker's figures (client groups, clients, queries, hydration times, memory; reported by the
   * worker every second).
   */
  #statz(): Record<string, unknown> {
    const mem = process.memoryUsage();
    return {
      taskID: this.#config.taskID,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      replica: {
        file: this.#config.replica.file,
        stateVersion: this.#replicaVersion ?? null,
        ready: this.#replicationReady,
      },
      processes: {
        supervisor: process.pid,
        replication: this.#replication?.process.pid ?? null,
        syncWorkers: this.#pool.workers.map((w) => w.process.pid),
      },
      syncWorkers: this.#pool.workerStats(),
      supervisorMemory: {rssBytes: mem.rss, heapUsedBytes: mem.heapUsed},
    };
  }

  #announceIfReady(): void {
    if (this.#announced || this.#outcome || !this.#replicationReady || !this.#workersReady) return;
    this.#announced = true;
    const workers = this.#pool.workers.map((w) => w.process.pid).join(', ');
    this.#log.info(
      `zcache ready: replicating into ${this.#config.replica.file}; ` +
        `${this.#config.numSyncWorkers} sync workers (pids ${workers || 'none'}); ` +
        `listening on port ${this.#config.port}`,
    );
  }

  #onChildExit(child: ChildHandle, exit: ChildExit): void {
    if (this.#outcome) return;
    this.#fail(`${child.name} exited unexpectedly (${describeExit(exit)}); stopping zcache`);
  }

  #fail(message: string): void {
    if (this.#outcome) return;
    this.#log.error(message);
    this.#finish({mode: 'fail', code: 1});
  }

  #finish(outcome: Outcome): void {
    this.#outcome ??= outcome;
    this.#settle(this.#outcome);
  }

  #handleSignals(): () => void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (!this.#outcome) {
        this.#log.info(`${signal}: shutting down`);
        this.#finish({mode: 'drain', code: 0});
        return;
      }
      this.#log.warn(`${signal} while stopping: killing the child processes`);
      this.#forced = true;
      for (const child of this.#children()) child.process.kill('SIGKILL');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  }

  #children(): ChildHandle[] {
    return [...this.#pool.workers, ...(this.#replication ? [this.#replication] : [])];
  }

  /** Workers drain first (they may still need the replica), then replication stops. */
  async #stopGracefully(): Promise<void> {
    const workers = this.#pool.workers;
    for (const w of workers) w.send({type: 'stop'});
    await Promise.all(workers.map((w) => this.#awaitStop(w, WORKER_DRAIN_TIMEOUT_MS)));
    const replication = this.#replication;
    if (replication) {
      replication.send({type: 'stop'});
      await this.#awaitStop(replication, REPLICATION_STOP_TIMEOUT_MS);
    }
  }

  /** After a failure: every child sees its channel close and exits promptly. */
  async #stopNow(): Promise<void> {
    const children = this.#children();
    for (const c of children) c.disconnect();
    await Promise.all(children.map((c) => this.#awaitStop(c, FAILURE_STOP_TIMEOUT_MS)));
  }

  async #awaitStop(child: ChildHandle, timeoutMs: number): Promise<void> {
    const {exit, killed} = await child.waitForExit(timeoutMs);
    if (killed) this.#log.warn(`${child.name} did not stop within ${timeoutMs} ms: killed`);
    else if (exit.code !== 0 && this.#outcome?.mode === 'drain') {
      this.#log.warn(`${child.name} stopped with ${describeExit(exit)}`);
    }
  }
}

function closeServer(server: http.Server): void {
  server.close();
  server.closeAllConnections();
}
