import WebSocket from 'ws';
import type {ChangeStreamMessage} from '../protocol/change-stream.js';
import {
  ChangeStreamErrorType,
  changesPath,
  decodeFrame,
  encodeAck,
  snapshotPath,
  type SnapshotStatusMessage,
  type SubscribeParams,
} from '../protocol/change-stream-wire.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import {secretHeaders} from './change-stream-gate.js';

/**
 * A view-syncer's side of the change-streamer protocol: snapshot reservations, and a change
 * subscription that survives lost connections.
 *
 * `followChanges` yields the stream as an unbroken sequence of whole transactions from the given
 * watermark: when the socket drops it reconnects (with backoff, logging why) from the last commit
 * the consumer took, and if a transaction was cut off it yields `rollback` first. An `error`
 * message from the manager (wrong replica version, watermark too old) ends it with a
 * ChangeStreamRefusedError: the replica must be restored again.
 *
 * Every request carries the shared secret (ZCACHE_CHANGE_STREAMER_SECRET) when one is set; a
 * request the manager refuses at the door (401 wrong secret, 503 too many connections) fails with
 * the manager's explanation and is retried like a lost connection.
 */
export class ChangeStreamRefusedError extends Error {
  readonly type: ChangeStreamErrorType;
  constructor(type: ChangeStreamErrorType, message: string) {
    super(message);
    this.name = 'ChangeStreamRefusedError';
    this.type = type;
  }
}

/** The manager's URL (ZERO_CHANGE_STREAMER_URI) with `path` replacing any path it has. */
export function changeStreamerURL(base: string, path: string): string {
  const withScheme = base.includes('://') ? base : `ws://${base}`;
  const u = new URL(withScheme);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  return new URL(path, `${u.protocol}//${u.host}`).toString();
}

export interface SnapshotReservation {
  readonly status: SnapshotStatusMessage[1];
  /** Ends the reservation (also ended by the manager when this task subscribes with initial). */
  release(): void;
}

const RETRY_MS = 5_000;
/**
 * A held reservation re-sends its ack this often: the manager expires a reservation it hears
 * nothing from for ZCACHE_CHANGE_STREAMER_ACK_TIMEOUT_MS (at least 20 s).
 */
const RESERVATION_KEEPALIVE_MS = 10_000;
/** The manager pings every 30 s; nothing for this long means the connection is dead. */
const SILENCE_MS = 33_000;

export interface ReservationOptions {
  /** ZCACHE_CHANGE_STREAMER_SECRET, when the manager requires one. */
  secret?: string | undefined;
  /** How often the held reservation is kept alive; default RESERVATION_KEEPALIVE_MS. */
  keepaliveMs?: number;
}

/** Asks the manager for a snapshot reservation, retrying until one is given or `signal` aborts. */
export async function reserveSnapshot(
  base: string,
  taskID: string,
  log: Logger,
  signal: AbortSignal,
  opts: ReservationOptions = {},
): Promise<SnapshotReservation> {
  const url = changeStreamerURL(base, snapshotPath(taskID));
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      return await reserveOnce(url, opts);
    } catch (e) {
      // A manager not up yet is routine (rolling updates); a wrong secret needs someone to act.
      const say = e instanceof RequestRefusedError && e.status === 401 ? log.warn : log.info;
      say(
        `waiting for the replication-manager at ${url} (attempt ${attempt}): ${(e as Error).message}; ` +
          `retrying in ${RETRY_MS / 1000} s`,
      );
      await sleep(RETRY_MS, signal);
    }
  }
}

function reserveOnce(url: string, opts: ReservationOptions): Promise<SnapshotReservation> {
  return new Promise((resolve, reject) => {
    const ws = openChangeStreamSocket(url, opts.secret);
    ws.on('error', (e) => reject(e));
    ws.once('close', (code, reason) =>
      reject(new Error(`closed (${code}${reason.length ? `: ${reason}` : ''})`)),
    );
    ws.once('message', (data) => {
      try {
        const {msg, id} = decodeFrame(data.toString());
        if (msg[0] !== 'status') throw new Error(`expected status, got ${msg[0]}`);
        ws.send(encodeAck(id));
        const keepalive = setInterval(
          () => ws.send(encodeAck(id)),
          opts.keepaliveMs ?? RESERVATION_KEEPALIVE_MS,
        );
        keepalive.unref();
        ws.on('close', () => clearInterval(keepalive));
        resolve({
          status: (msg as unknown as SnapshotStatusMessage)[1],
          release: () => ws.close(1000, 'released'),
        });
      } catch (e) {
        ws.terminate();
        reject(e);
      }
    });
  });
}

export interface FollowOptions {
  base: string;
  params: Omit<SubscribeParams, 'watermark' | 'initial'>;
  /** The watermark to start after (the replica's stateVersion). */
  from: LexiVersion;
  /** ZCACHE_CHANGE_STREAMER_SECRET, when the manager requires one. */
  secret?: string | undefined;
  log: Logger;
  signal: AbortSignal;
}

export async function* followChanges(o: FollowOptions): AsyncGenerator<ChangeStreamMessage> {
  let committed = o.from;
  let initial = true;
  let failures = 0;
  while (!o.signal.aborted) {
    const url = changeStreamerURL(
      o.base,
      changesPath({...o.params, watermark: committed, initial}),
    );
    const conn = new SubscriptionSocket(url, o.secret, o.signal);
    let inTransaction = false;
    try {
      for await (const {msg, id} of conn.frames()) {
        if (msg[0] === 'status') {
          initial = false;
          failures = 0;
          o.log.info(`following the change-streamer at ${o.base} from ${committed}`);
          continue;
        }
        if (msg[0] === 'error') {
          throw new ChangeStreamRefusedError(msg[1].type, msg[1].message ?? 'refused');
        }
        inTransaction = msg[0] === 'begin' || (inTransaction && msg[0] === 'data');
        yield msg;
        if (msg[0] === 'commit') committed = msg[2].watermark;
        conn.ack(id, msg[0] === 'commit');
      }
      if (!o.signal.aborted) throw new Error(conn.closeReason ?? 'the connection closed');
    } catch (e) {
      if (e instanceof ChangeStreamRefusedError || o.signal.aborted) throw e;
      if (inTransaction) yield ['rollback', {tag: 'rollback'}];
      failures++;
      const wait = Math.min(1000 * failures, RETRY_MS);
      o.log.warn(
        `lost the change-streamer at ${o.base}: ${(e as Error).message}; reconnecting in ${wait} ms`,
      );
      await sleep(wait, o.signal).catch(() => {});
    } finally {
      conn.close();
    }
  }
}

/** One subscription socket as an async sequence of decoded frames. */
class SubscriptionSocket {
  readonly #ws: WebSocket;
  readonly #queue: string[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #error: Error | undefined;
  #unackedSince = 0;
  #silence: NodeJS.Timeout | undefined;
  closeReason: string | undefined;

  constructor(url: string, secret: string | undefined, signal: AbortSignal) {
    this.#ws = openChangeStreamSocket(url, secret, {maxPayload: 256 * 1024 * 1024});
    const onAbort = () => this.#ws.terminate();
    signal.addEventListener('abort', onAbort, {once: true});
    this.#ws.on('message', (data) => {
      this.#queue.push(data.toString());
      this.#alive();
      this.#wake?.();
    });
    this.#ws.on('ping', () => this.#alive());
    this.#ws.on('open', () => this.#alive());
    // The first error says why; closing the socket afterwards may add a vaguer one.
    this.#ws.on('error', (e) => (this.#error ??= e));
    this.#ws.on('close', (code, reason) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(this.#silence);
      this.closeReason = `closed (${code}${reason.length ? `: ${reason}` : ''})`;
      this.#ended = true;
      this.#wake?.();
    });
  }

  #alive(): void {
    clearTimeout(this.#silence);
    this.#silence = setTimeout(() => {
      this.#error = new Error(`no message or ping for ${SILENCE_MS / 1000} s`);
      this.#ws.terminate();
    }, SILENCE_MS);
    this.#silence.unref();
  }

  async *frames(): AsyncGenerator<ReturnType<typeof decodeFrame>> {
    for (;;) {
      const text = this.#queue.shift();
      if (text !== undefined) {
        yield decodeFrame(text);
        continue;
      }
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }

  /** Acks are cumulative: sent at every commit, and every 1000 messages inside big transactions. */
  ack(id: number, commit: boolean): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    if (commit || ++this.#unackedSince >= 1000) {
      this.#unackedSince = 0;
      this.#ws.send(encodeAck(id));
    }
  }

  close(): void {
    clearTimeout(this.#silence);
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING)
      this.#ws.terminate();
  }
}

/** The manager answered a request with an HTTP error (401, 503) instead of a WebSocket. */
class RequestRefusedError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'RequestRefusedError';
    this.status = status;
  }
}

/**
 * A WebSocket to the manager carrying the secret. When the manager answers with an HTTP error
 * instead of upgrading, the socket's first 'error' says so with the manager's own explanation
 * (e.g. "HTTP 401 Unauthorized: this change-streamer requires its shared secret ...").
 */
function openChangeStreamSocket(
  url: string,
  secret: string | undefined,
  opts: WebSocket.ClientOptions = {},
): WebSocket {
  const ws = new WebSocket(url, {
    handshakeTimeout: 10_000,
    ...opts,
    headers: secretHeaders(secret),
  });
  ws.once('unexpected-response', (_req, res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body = (body + chunk).slice(0, 1000)));
    res.on('close', () => {
      const status = `HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim();
      const why = `the replication-manager refused: ${status}: ${body.trim()}`;
      ws.emit('error', new RequestRefusedError(res.statusCode ?? 0, why));
      ws.terminate();
    });
  });
  return ws;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, {once: true});
  });
}
