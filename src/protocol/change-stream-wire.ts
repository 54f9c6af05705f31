/**
 * The change-streamer's WebSocket protocol between a replication-manager and its view-syncers
 * (fact sheet §6): routes, query parameters, and the `{msg, id}` / `{ack}` framing.
 *
 * Both ends are zcache, but the socket crosses a network, so frames are checked for shape before
 * use: a frame that is not one of these is an error naming what was wrong. The changes inside a
 * `data` message are trusted as the manager's own output (they are not re-validated field by
 * field).
 */
import type {LexiVersion} from '../shared/lexi-version.js';
import {parseBigIntJSON, stringifyBigIntJSON} from '../shared/bigint-json.js';
import type {ChangeStreamMessage} from './change-stream.js';

export const CHANGE_STREAM_PROTOCOL_VERSION = 4;
export const MIN_CHANGE_STREAM_PROTOCOL_VERSION = 1;

/** Error types of an `['error', {type, message}]` message (the stream closes after it). */
export const ChangeStreamErrorType = {
  Unknown: 0,
  WrongReplicaVersion: 1,
  WatermarkTooOld: 2,
} as const;
export type ChangeStreamErrorType =
  (typeof ChangeStreamErrorType)[keyof typeof ChangeStreamErrorType];

export type StatusMessage = ['status', {tag: 'status'}];
export type StreamErrorMessage = ['error', {type: ChangeStreamErrorType; message?: string}];
export type SubscriptionMessage = ChangeStreamMessage | StatusMessage | StreamErrorMessage;

/** The one message of a snapshot reservation. */
export type SnapshotStatusMessage = [
  'status',
  {tag: 'status'; backupURL: string; replicaVersion: LexiVersion; minWatermark: LexiVersion},
];

export interface SubscribeParams {
  id: string;
  taskID: string;
  mode: 'serving' | 'backup';
  replicaVersion: LexiVersion;
  /** The last commit watermark the subscriber applied (its replica's stateVersion). */
  watermark: LexiVersion;
  /** The first subscription after a restore or start-up (releases the task's reservation). */
  initial: boolean;
}

export function changesPath(params: SubscribeParams): string {
  const q = new URLSearchParams({
    id: params.id,
    taskID: params.taskID,
    mode: params.mode,
    replicaVersion: params.replicaVersion,
    watermark: params.watermark,
    initial: String(params.initial),
  });
  return `/replication/v${CHANGE_STREAM_PROTOCOL_VERSION}/changes?${q}`;
}

export function snapshotPath(taskID: string): string {
  return `/replication/v${CHANGE_STREAM_PROTOCOL_VERSION}/snapshot?${new URLSearchParams({taskID})}`;
}

export type ChangeStreamRoute =
  | {route: 'changes'; version: number; params: SubscribeParams}
  | {route: 'snapshot'; version: number; taskID: string};

/** Parses an upgrade request's URL; throws with a message fit for the close reason. */
export function parseChangeStreamRoute(url: string): ChangeStreamRoute {
  const u = new URL(url, 'ws://change-streamer');
  const m = /^\/replication\/v(\d+)\/(changes|snapshot)$/.exec(u.pathname);
  if (!m) throw new Error(`no change-streamer route ${u.pathname}`);
  const version = Number(m[1]);
  if (version < MIN_CHANGE_STREAM_PROTOCOL_VERSION || version > CHANGE_STREAM_PROTOCOL_VERSION) {
    throw new Error(
      `change-stream protocol v${version} is not supported (v${MIN_CHANGE_STREAM_PROTOCOL_VERSION}` +
        `–v${CHANGE_STREAM_PROTOCOL_VERSION}): upgrade the older of the two roles`,
    );
  }
  const q = u.searchParams;
  const taskID = q.get('taskID') ?? '';
  if (m[2] === 'snapshot') return {route: 'snapshot', version, taskID};
  const required = (name: string) => {
    const value = q.get(name);
    if (value === null || value === '') throw new Error(`missing query parameter ${name}`);
    return value;
  };
  return {
    route: 'changes',
    version,
    params: {
      id: q.get('id') ?? '',
      taskID,
      mode: q.get('mode') === 'backup' ? 'backup' : 'serving',
      replicaVersion: required('replicaVersion'),
      watermark: required('watermark'),
      initial: q.get('initial') === 'true',
    },
  };
}

/** A server → subscriber frame. */
export function encodeFrame(msg: SubscriptionMessage | SnapshotStatusMessage, id: number): string {
  return stringifyBigIntJSON({msg, id});
}

const MESSAGE_TAGS = new Set(['begin', 'data', 'commit', 'rollback', 'status', 'error']);

/** Parses a frame the subscriber received; throws naming what is wrong with it. */
export function decodeFrame(text: string): {msg: SubscriptionMessage; id: number} {
  let frame: unknown;
  try {
    frame = parseBigIntJSON(text);
  } catch (e) {
    throw new Error(`change stream: a frame is not JSON (${(e as Error).message})`);
  }
  const f = frame as {msg?: unknown; id?: unknown};
  if (typeof f !== 'object' || f === null || !Array.isArray(f.msg)) {
    throw new Error('change stream: a frame has no msg array');
  }
  const id = typeof f.id === 'bigint' ? Number(f.id) : f.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new Error(`change stream: a frame has a bad id ${String(f.id)}`);
  }
  const tag = f.msg[0];
  if (typeof tag !== 'string' || !MESSAGE_TAGS.has(tag)) {
    throw new Error(`change stream: unknown message type ${JSON.stringify(tag)}`);
  }
  return {msg: f.msg as SubscriptionMessage, id};
}

export function encodeAck(id: number): string {
  return JSON.stringify({ack: id});
}

/** Parses a subscriber → server frame: `{ack: n}`. */
export function decodeAck(text: string): number {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    throw new Error('change stream: an ack is not JSON');
  }
  const ack = (frame as {ack?: unknown} | null)?.ack;
  if (typeof ack !== 'number' || !Number.isSafeInteger(ack) || ack < 1) {
    throw new Error(`change stream: bad ack ${JSON.stringify(frame)}`);
  }
  return ack;
}
