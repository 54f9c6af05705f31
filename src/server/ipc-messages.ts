import type {IncomingHttpHeaders} from 'node:http';
import type {LexiVersion} from '../shared/lexi-version.js';

/**
 * The messages the supervisor and its children exchange over Node's IPC channel (JSON
 * serialization). Both ends are our own processes, so the messages are trusted; `isIpcMessage`
 * only guards against stray messages (e.g. from a debugger) by checking the `type` tag.
 *
 * Supervisor → sync worker: `handoff` (with the socket as the send handle), `version-ready`,
 * `stop`. Supervisor → replication child: `stop`. Child → supervisor: `ready`, `failed`, from
 * the replication child `version-ready`, and from sync workers `worker-stats` (every second). Disconnecting the channel means "stop now" to a child.
 */

/** The parts of the upgrade request a worker needs to complete the WebSocket handshake. */
export interface HandedOffRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The bytes the HTTP parser read past the request head, base64 (usually empty). */
  head: string;
}

/** Sent with the client's socket as the IPC send handle. */
export interface HandoffMessage {
  type: 'handoff';
  request: HandedOffRequest;
}

/** The replica has committed up to `stateVersion` (only the latest one matters). */
export interface VersionReadyMessage {
  type: 'version-ready';
  stateVersion: LexiVersion;
}

/** Graceful stop: a worker drains its connections, the replication child closes its stream. */
export interface StopMessage {
  type: 'stop';
}

/**
 * The child has started: the replication child after initial sync or resume, a worker once it
 * accepts sockets.
 */
export interface ReadyMessage {
  type: 'ready';
  /** The replication child's replica version at that moment. */
  stateVersion?: LexiVersion;
}

/** The child could not start; `message` is the one line to print. The child exits 1 after it. */
export interface FailedMessage {
  type: 'failed';
  message: string;
}

/** A sync worker's figures for /statz (its handler's, plus the process's memory). */
export interface WorkerStatsMessage {
  type: 'worker-stats';
  stats: Record<string, unknown>;
}

export type SupervisorToWorker = HandoffMessage | VersionReadyMessage | StopMessage;
export type SupervisorToReplication = StopMessage;
export type ChildToSupervisor =
  ReadyMessage | FailedMessage | VersionReadyMessage | WorkerStatsMessage;

const TYPES: ReadonlySet<string> = new Set([
  'handoff',
  'version-ready',
  'stop',
  'ready',
  'failed',
  'worker-stats',
]);

/** True when `value` looks like one of the messages above (checked by its `type` tag). */
export function isIpcMessage(
  value: unknown,
): value is SupervisorToWorker | SupervisorToReplication | ChildToSupervisor {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as {type?: unknown}).type === 'string' &&
    TYPES.has((value as {type: string}).type)
  );
}
