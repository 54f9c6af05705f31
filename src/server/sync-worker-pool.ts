import type {IncomingMessage} from 'node:http';
import type {Socket} from 'node:net';
import {WebSocketServer} from 'ws';
import type {ZeroConfig} from '../config/index.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import {ChildHandle, childEnvironment, type ChildExit} from './child-process.js';
import type {ChildToSupervisor, HandoffMessage} from './ipc-messages.js';
import {LatestValueSender} from './latest-value-sender.js';
import {
  closeWithHandoffFailure,
  handedOffRequest,
  routeUpgrade,
  syncWebSocketServerOptions,
} from './upgrade-handoff.js';

/**
 * The supervisor's side of the sync workers: forks them, routes each upgrade to its worker (§10.2)
 * and relays the replica's version to them.
 *
 * - Sockets for a worker that is not ready yet wait in its queue, and go out when it reports ready.
 *   While they wait they are read (what arrives is kept for the worker), so that one whose client
 *   gave up — the Zero client does after 10 s, and a restoring node may take longer — is dropped
 *   instead of being handed over and served as a ghost that takes the client group's CVR from
 *   the connection the client really uses.
 * - `publishVersion` reaches every worker, coalesced per worker (only the latest version matters);
 *   a worker that becomes ready later gets the latest one when it starts.
 * - After `stopAccepting`, upgrades are answered with HTTP 503 and queued sockets are dropped.
 */
export interface SyncWorkerPoolEvents {
  /** Every worker has reported ready. */
  onAllReady(): void;
  /** A worker could not start (its message is the one line to print). */
  onFailed(message: string): void;
  /** A worker exited (expected or not: the supervisor decides). */
  onExit(worker: ChildHandle, exit: ChildExit): void;
}

/** An upgrade waiting for its worker: its request, and the bytes read from it so far. */
interface WaitingUpgrade {
  req: IncomingMessage;
  socket: Socket;
  received: Buffer[];
  /** Stops watching the socket (it is being handed over, or dropped). */
  unwatch(): void;
}

interface WorkerSlot {
  readonly handle: ChildHandle;
  readonly versions: LatestValueSender<LexiVersion>;
  ready: boolean;
  queue: WaitingUpgrade[];
  stats?: {at: number; stats: Record<string, unknown>};
}

export class SyncWorkerPool {
  readonly #config: ZeroConfig;
  readonly #log: Logger;
  readonly #events: SyncWorkerPoolEvents;
  /** Completes handshakes only to close them with 1002. */
  readonly #refusals = new WebSocketServer(syncWebSocketServerOptions());
  readonly #slots: WorkerSlot[] = [];
  #accepting = true;

  constructor(config: ZeroConfig, log: Logger, events: SyncWorkerPoolEvents) {
    this.#config = config;
    this.#log = log;
    this.#events = events;
  }

  get workers(): readonly ChildHandle[] {
    return this.#slots.map((s) => s.handle);
  }

  /** Each worker's last reported figures, with their age. */
  workerStats(now = Date.now()): Record<string, unknown>[] {
    return this.#slots.map((s, index) => ({
      index,
      pid: s.handle.process.pid,
      ready: s.ready,
      ...(s.stats ? {reportedMsAgo: now - s.stats.at, ...s.stats.stats} : {}),
    }));
  }

  /** Forks `numSyncWorkers` workers. */
  start(): void {
    const env = childEnvironment(this.#config);
    for (let i = 0; i < this.#config.numSyncWorkers; i++) {
      const slot: WorkerSlot = {
        handle: new ChildHandle(`sync worker ${i}`, 'sync-worker-process', [String(i)], env, (m) =>
          this.#onMessage(slot, m),
        ),
        versions: new LatestValueSender((stateVersion, done) =>
          slot.handle.send({type: 'version-ready', stateVersion}, undefined, done),
        ),
        ready: false,
        queue: [],
      };
      this.#slots.push(slot);
      void slot.handle.exited.then((exit) => this.#events.onExit(slot.handle, exit));
    }
  }

  #onMessage(slot: WorkerSlot, message: ChildToSupervisor): void {
    if (message.type === 'failed') return this.#events.onFailed(message.message);
    if (message.type === 'worker-stats') {
      slot.stats = {at: Date.now(), stats: message.stats};
      return;
    }
    if (message.type !== 'ready' || slot.ready) return;
    slot.ready = true;
    this.#log.debug(`${slot.handle.name} is ready`);
    for (const waiting of slot.queue.splice(0)) {
      waiting.unwatch();
      const head = Buffer.concat([...waiting.received, stopReading(waiting.socket)]);
      this.#sendSocket(slot, handoffMessage(waiting.req, head), waiting.socket);
    }
    if (this.#slots.every((s) => s.ready)) this.#events.onAllReady();
  }

  /** Relays the replica's latest version to every worker. */
  publishVersion(stateVersion: LexiVersion): void {
    for (const slot of this.#slots) slot.versions.offer(stateVersion);
  }

  /** The HTTP server's `upgrade` listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    if (!this.#accepting) {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    let index: number;
    try {
      index = routeUpgrade(req, this.#config.taskID, this.#slots.length);
    } catch (e) {
      closeWithHandoffFailure(this.#refusals, req, socket, head, e, this.#log);
      return;
    }
    const slot = this.#slots[index]!;
    this.#log.debug(`handing ${req.url} to ${slot.handle.name}`);
    if (slot.ready) {
      const message = handoffMessage(req, Buffer.concat([head, stopReading(socket)]));
      this.#sendSocket(slot, message, socket);
    } else {
      this.#wait(slot, req, head, socket);
    }
  };

  /** Queues an upgrade for a worker that is not ready, reading it to notice its client leave. */
  #wait(slot: WorkerSlot, req: IncomingMessage, head: Buffer, socket: Socket): void {
    const received = [head];
    const onData = (chunk: Buffer) => received.push(chunk);
    const onGone = () => {
      const i = slot.queue.indexOf(waiting);
      if (i < 0) return;
      slot.queue.splice(i, 1);
      waiting.unwatch();
      socket.destroy();
      this.#log.debug(`${req.url}: the client left while waiting for ${slot.handle.name}`);
    };
    const waiting: WaitingUpgrade = {
      req,
      socket,
      received,
      unwatch: () => {
        socket.off('data', onData);
        socket.off('end', onGone);
        socket.off('close', onGone);
      },
    };
    socket.on('error', () => {});
    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
    slot.queue.push(waiting);
  }

  #sendSocket(slot: WorkerSlot, message: HandoffMessage, socket: Socket): void {
    if (socket.destroyed) return;
    socket.on('error', () => {});
    slot.handle.send(message, socket, (error) => {
      if (error) {
        this.#log.debug(`hand-off to ${slot.handle.name} failed: ${error.message}`);
        socket.destroy();
      }
    });
  }

  /** From now on, upgrades get 503; sockets still queued for a worker are closed. */
  stopAccepting(): void {
    this.#accepting = false;
    for (const slot of this.#slots) {
      for (const {socket} of slot.queue.splice(0)) socket.destroy();
    }
  }
}

function handoffMessage(req: IncomingMessage, head: Buffer): HandoffMessage {
  return {type: 'handoff', request: handedOffRequest(req, head)};
}

/**
 * Stops this process reading the connection and returns what it had buffered. The worker and
 * this process share the file descriptor until the hand-off has closed ours, which happens only
 * once the worker has acknowledged it; until then Node keeps reading here and drops what it reads
 * (the handle's reader is replaced by a no-op when it is sent). A frame the client sends as soon
 * as the worker greets it was lost that way. `pause()` alone does not stop the reads.
 */
function stopReading(socket: Socket): Buffer {
  socket.pause();
  const handle = (socket as unknown as {_handle?: {reading?: boolean; readStop?: () => number}})
    ._handle;
  if (handle?.readStop) {
    handle.reading = false;
    handle.readStop();
  }
  const buffered: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk; chunk = socket.read() as Buffer | null)
    buffered.push(chunk);
  return Buffer.concat(buffered);
}
