import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {WebSocketServer, type WebSocket} from 'ws';
import {
  ChangeStreamErrorType,
  decodeAck,
  encodeFrame,
  parseChangeStreamRoute,
  type SnapshotStatusMessage,
  type SubscribeParams,
  type SubscriptionMessage,
} from '../protocol/change-stream-wire.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeLog} from './change-log.js';
import type {ChangeStreamer} from './change-streamer.js';

/**
 * The replication-manager's change-streamer endpoint (fact sheet §6.1–6.3, 6.5), on
 * ZERO_CHANGE_STREAMER_PORT: `/changes` streams stored transactions to view-syncers (catch-up from
 * the change log, then live), `/snapshot` hands out backup reservations, `/` and `/keepalive`
 * answer OK.
 *
 * Flow control: frames are pipelined up to WINDOW unacknowledged ones (and a bounded socket
 * buffer); a subscriber's acks are cumulative. A subscriber's acked commit is the watermark it is
 * known to have applied, which bounds the change-log purge (see `oldestNeeded`).
 *
 * Not guaranteed: delivery to a subscriber that disconnects; it resubscribes from its own
 * watermark and gets everything after it again, or an error that says why it cannot.
 */
export interface ChangeStreamServerOptions {
  port: number;
  host?: string;
  streamer: ChangeStreamer;
  changeLog: ChangeLog;
  replicaVersion: LexiVersion;
  /** The manager's ZERO_LITESTREAM_BACKUP_URL; without it /snapshot is refused. */
  backupURL?: string | undefined;
  /** The watermark of the newest finished backup, if any. */
  latestBackupWatermark: () => LexiVersion | undefined;
  log: Logger;
  pingIntervalMs?: number;
}

const WINDOW = 10_000;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const CLOSE_PROTOCOL_ERROR = 1002;

interface Subscriber {
  readonly params: SubscribeParams;
  /** The newest commit watermark the subscriber acknowledged. */
  acked: LexiVersion;
}

export class ChangeStreamServer {
  readonly #o: ChangeStreamServerOptions;
  readonly #http: http.Server;
  readonly #wss = new WebSocketServer({noServer: true, maxPayload: 1024 * 1024});
  readonly #subscribers = new Set<Subscriber>();
  /** taskID → open reservation sockets. */
  readonly #reservations = new Map<string, Set<WebSocket>>();
  #pinger: NodeJS.Timeout | undefined;

  constructor(opts: ChangeStreamServerOptions) {
    this.#o = opts;
    this.#http = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'GET' && (path === '/' || path === '/keepalive')) res.end('OK');
      else res.writeHead(404).end();
    });
    this.#http.on('upgrade', (req, socket, head) =>
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req.url ?? '')),
    );
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `change-streamer: cannot listen on port ${this.#o.port} (${e.code ?? e.message}); ` +
              'set ZERO_CHANGE_STREAMER_PORT to a free port',
          ),
        ),
      );
      this.#http.listen(this.#o.port, this.#o.host ?? '::', () => resolve());
    });
    const every = this.#o.pingIntervalMs ?? 30_000;
    this.#pinger = setInterval(() => {
      for (const ws of this.#wss.clients) ws.ping();
    }, every);
    this.#pinger.unref();
    return (this.#http.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    clearInterval(this.#pinger);
    for (const ws of this.#wss.clients) ws.terminate();
    this.#http.closeAllConnections();
    await new Promise((r) => this.#http.close(r));
  }

  /**
   * The oldest watermark the change log must still hold for what is connected: undefined when a
   * reservation is open (a view-syncer is restoring and will need everything after the backup),
   * else the lowest acked watermark of a connected subscriber (or null when there is none).
   */
  oldestNeeded(): LexiVersion | null | undefined {
    if (this.#reservations.size > 0) return undefined;
    let oldest: LexiVersion | null = null;
    for (const s of this.#subscribers) if (oldest === null || s.acked < oldest) oldest = s.acked;
    return oldest;
  }

  stats(): {subscribers: {taskID: string; acked: LexiVersion}[]; reservations: number} {
    return {
      subscribers: [...this.#subscribers].map((s) => ({taskID: s.params.taskID, acked: s.acked})),
      reservations: [...this.#reservations.values()].reduce((n, set) => n + set.size, 0),
    };
  }

  #onConnection(ws: WebSocket, url: string): void {
    let route;
    try {
      route = parseChangeStreamRoute(url);
    } catch (e) {
      return ws.close(CLOSE_PROTOCOL_ERROR, (e as Error).message.slice(0, 120));
    }
    if (route.route === 'snapshot') return this.#reserve(ws, route.taskID);
    this.#serve(ws, route.params).catch((e) => {
      this.#o.log.warn(`change-streamer: subscriber ${route.params.taskID} failed`, e);
      ws.close(CLOSE_PROTOCOL_ERROR, String((e as Error).message ?? e).slice(0, 120));
    });
  }

  #reserve(ws: WebSocket, taskID: string): void {
    const watermark = this.#o.latestBackupWatermark();
    if (!this.#o.backupURL) {
      return ws.close(CLOSE_PROTOCOL_ERROR, 'this replication-manager has no backup URL');
    }
    if (watermark === undefined) {
      return ws.close(CLOSE_PROTOCOL_ERROR, 'no backup yet: retry shortly');
    }
    const set = this.#reservations.get(taskID) ?? new Set<WebSocket>();
    this.#reservations.set(taskID, set.add(ws));
    ws.on('close', () => this.#release(taskID, ws));
    const status: SnapshotStatusMessage = [
      'status',
      {
        tag: 'status',
        backupURL: this.#o.backupURL,
        replicaVersion: this.#o.replicaVersion,
        minWatermark: watermark,
      },
    ];
    ws.send(encodeFrame(status, 1));
  }

  #release(taskID: string, only?: WebSocket): void {
    const set = this.#reservations.get(taskID);
    if (!set) return;
    for (const ws of [...set]) {
      if (only && ws !== only) continue;
      set.delete(ws);
      if (!only) ws.close(1000, 'subscribed');
    }
    if (set.size === 0) this.#reservations.delete(taskID);
  }

  async #serve(ws: WebSocket, params: SubscribeParams): Promise<void> {
    const abort = new AbortController();
    ws.on('close', () => abort.abort());
    const refusal = await this.#refusal(params);
    if (refusal) {
      ws.send(encodeFrame(['error', refusal], 1));
      return ws.close(1000, 'refused');
    }
    const sub: Subscriber = {params, acked: params.watermark};
    this.#subscribers.add(sub);
    abort.signal.addEventListener('abort', () => this.#subscribers.delete(sub));
    if (params.initial && params.taskID) this.#release(params.taskID);

    let nextId = 1;
    let ackedId = 0;
    const commits: [number, LexiVersion][] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (data) => {
      try {
        ackedId = Math.max(ackedId, decodeAck(data.toString()));
      } catch (e) {
        return ws.close(CLOSE_PROTOCOL_ERROR, (e as Error).message.slice(0, 120));
      }
      while (commits.length && commits[0]![0] <= ackedId) sub.acked = commits.shift()![1];
      wake?.();
    });
    const send = async (msg: SubscriptionMessage) => {
      while (
        !abort.signal.aborted &&
        (nextId - ackedId > WINDOW || ws.bufferedAmount > MAX_BUFFERED_BYTES)
      ) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      if (msg[0] === 'commit') commits.push([nextId, msg[2].watermark]);
      ws.send(encodeFrame(msg, nextId++));
    };
    await send(['status', {tag: 'status'}]);
    for await (const msg of this.#o.streamer.subscribe(params.watermark, abort.signal)) {
      if (abort.signal.aborted) break;
      await send(msg);
    }
  }

  async #refusal(
    p: SubscribeParams,
  ): Promise<{type: ChangeStreamErrorType; message: string} | null> {
    if (p.replicaVersion !== this.#o.replicaVersion) {
      return {
        type: ChangeStreamErrorType.WrongReplicaVersion,
        message:
          `the subscriber's replica is version ${p.replicaVersion}, this change log is for ` +
          `${this.#o.replicaVersion}: restore the replica again`,
      };
    }
    if (p.watermark > this.#o.streamer.lastStored) {
      return {
        type: ChangeStreamErrorType.WatermarkTooOld,
        message: `the subscriber is at ${p.watermark}, ahead of this change log (${this.#o.streamer.lastStored})`,
      };
    }
    if (!(await this.#o.changeLog.coversAfter(p.watermark))) {
      return {
        type: ChangeStreamErrorType.WatermarkTooOld,
        message: `the change log no longer holds every change after ${p.watermark}: restore the replica again`,
      };
    }
    return null;
  }
}
