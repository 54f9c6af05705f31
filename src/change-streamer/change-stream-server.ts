import http from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Duplex} from 'node:stream';
import {WebSocketServer, type WebSocket} from 'ws';
import {
  ChangeStreamErrorType,
  encodeFrame,
  parseChangeStreamRoute,
  type SnapshotStatusMessage,
  type SubscribeParams,
} from '../protocol/change-stream-wire.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import type {Logger} from '../shared/log.js';
import type {ChangeLog} from './change-log.js';
import {ChangeStreamGate, refuseUpgrade} from './change-stream-gate.js';
import {
  CLOSE_POLICY_VIOLATION,
  CLOSE_PROTOCOL_ERROR,
  ChangeStreamSubscription,
} from './change-stream-subscription.js';
import type {ChangeStreamer} from './change-streamer.js';

/**
 * The replication-manager's change-streamer endpoint (fact sheet §6.1–6.3, 6.5), on
 * ZERO_CHANGE_STREAMER_PORT: `/changes` streams stored transactions to view-syncers (catch-up from
 * the change log, then live), `/snapshot` hands out backup reservations, `/` and `/keepalive`
 * answer OK.
 *
 * The port carries every replicated row, so the gate (change-stream-gate.ts) lets in only requests
 * with the shared secret, when one is set, and at most `maxConnections` sockets. What bounds the
 * change-log purge (`oldestNeeded`) is each subscriber's acked watermark and each reservation's
 * backup watermark; neither may hold it for long without the view-syncer behind it showing signs
 * of life, so a subscriber that owes an ack and a reservation that sent nothing for `ackTimeoutMs`
 * are dropped (a real view-syncer reconnects, and resumes or restores again).
 *
 * Not guaranteed: delivery to a subscriber that disconnects; it resubscribes from its own
 * watermark and gets everything after it again, or an error that says why it cannot.
 */
export interface ChangeStreamServerOptions {
  port: number;
  /** The address to listen on; unset: every interface (IPv6 and IPv4 where available). */
  host?: string | undefined;
  streamer: ChangeStreamer;
  changeLog: ChangeLog;
  replicaVersion: LexiVersion;
  /** The manager's ZERO_LITESTREAM_BACKUP_URL; without it /snapshot is refused. */
  backupURL?: string | undefined;
  /** The watermark of the newest finished backup, if any. */
  latestBackupWatermark: () => LexiVersion | undefined;
  log: Logger;
  pingIntervalMs?: number;
  /** ZCACHE_CHANGE_STREAMER_SECRET: required of every request when set. */
  secret?: string | undefined;
  /** Default 256. */
  maxConnections?: number;
  /** How long a subscriber may owe an ack, or a reservation stay silent; default 5 min. */
  ackTimeoutMs?: number;
  /** NODE_ENV=development: no warning when the port is open to anyone who reaches it. */
  development?: boolean;
  /** Called after a subscriber or reservation was dropped, e.g. to purge the log right away. */
  onDropped?: () => void;
}

const DEFAULT_MAX_CONNECTIONS = 256;
const DEFAULT_ACK_TIMEOUT_MS = 5 * 60_000;

interface Reservation {
  readonly taskID: string;
  readonly ws: WebSocket;
  /** The backup it named: the restoring view-syncer needs every change after it. */
  readonly minWatermark: LexiVersion;
  lastHeardAt: number;
}

export class ChangeStreamServer {
  readonly #o: ChangeStreamServerOptions;
  readonly #http: http.Server;
  readonly #wss = new WebSocketServer({noServer: true, maxPayload: 1024 * 1024});
  readonly #gate: ChangeStreamGate;
  readonly #ackTimeoutMs: number;
  readonly #subscribers = new Set<ChangeStreamSubscription>();
  readonly #reservations = new Set<Reservation>();
  #pinger: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;

  constructor(opts: ChangeStreamServerOptions) {
    this.#o = opts;
    this.#gate = new ChangeStreamGate({
      secret: opts.secret,
      maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    });
    this.#ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.#http = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'GET' && (path === '/' || path === '/keepalive')) res.end('OK');
      else res.writeHead(404).end();
    });
    this.#http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#onUpgrade(req, socket, head),
    );
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `change-streamer: cannot listen on ${this.#o.host ? `${this.#o.host}:` : 'port '}` +
              `${this.#o.port} ` +
              `(${e.code ?? e.message}); set ZERO_CHANGE_STREAMER_PORT to a free port` +
              (this.#o.host ? ' and ZCACHE_CHANGE_STREAMER_BIND_ADDRESS to a local address' : ''),
          ),
        ),
      );
      this.#http.listen(this.#o.port, this.#o.host, () => resolve());
    });
    const every = this.#o.pingIntervalMs ?? 30_000;
    this.#pinger = setInterval(() => {
      for (const ws of this.#wss.clients) ws.ping();
    }, every);
    this.#pinger.unref();
    this.#expiry = setInterval(() => this.#dropSilent(), Math.min(this.#ackTimeoutMs / 4, 10_000));
    this.#expiry.unref();
    const port = (this.#http.address() as AddressInfo).port;
    if (!this.#gate.requiresSecret && !this.#o.development) this.#warnOpen(port);
    return port;
  }

  async close(): Promise<void> {
    clearInterval(this.#pinger);
    clearInterval(this.#expiry);
    for (const ws of this.#wss.clients) ws.terminate();
    this.#http.closeAllConnections();
    await new Promise((r) => this.#http.close(r));
  }

  /**
   * The oldest watermark the change log must still hold for what is connected: the lowest of
   * every open reservation's backup watermark and every subscriber's acked watermark, or null when
   * there are none.
   */
  oldestNeeded(): LexiVersion | null {
    let oldest: LexiVersion | null = null;
    const needs = [
      ...[...this.#reservations].map((r) => r.minWatermark),
      ...[...this.#subscribers].map((s) => s.acked),
    ];
    for (const w of needs) if (oldest === null || w < oldest) oldest = w;
    return oldest;
  }

  stats(): {subscribers: {taskID: string; acked: LexiVersion}[]; reservations: number} {
    return {
      subscribers: [...this.#subscribers].map((s) => ({taskID: s.params.taskID, acked: s.acked})),
      reservations: this.#reservations.size,
    };
  }

  #warnOpen(port: number): void {
    this.#o.log.warn(
      `change-streamer: ZCACHE_CHANGE_STREAMER_SECRET is not set, so anyone who can reach port ` +
        `${port} can read every replicated row. Keep this port internal (do not publish it ` +
        'outside the private network of the view-syncers), and set ZCACHE_CHANGE_STREAMER_SECRET ' +
        'to the same value on the replication-manager and every view-syncer',
    );
  }

  /** Drops subscribers that owe an ack, and reservations silent, for longer than the timeout. */
  #dropSilent(): void {
    const deadline = Date.now() - this.#ackTimeoutMs;
    const secs = this.#ackTimeoutMs / 1000;
    let dropped = 0;
    for (const sub of this.#subscribers) {
      const since = sub.ackOverdueSince;
      if (since === undefined || since > deadline) continue;
      this.#subscribers.delete(sub);
      sub.drop(
        CLOSE_POLICY_VIOLATION,
        `no ack for ${secs} s: dropped so the change log can be purged`,
      );
      this.#o.log.warn(
        `change-streamer: dropped subscriber ${sub.params.taskID} at ${sub.acked}: no ack for ` +
          `${secs} s (ZCACHE_CHANGE_STREAMER_ACK_TIMEOUT_MS); it must resubscribe or restore`,
      );
      dropped++;
    }
    for (const r of this.#reservations) {
      if (r.lastHeardAt > deadline) continue;
      this.#reservations.delete(r);
      r.ws.close(CLOSE_POLICY_VIOLATION, `reservation silent for ${secs} s: expired`);
      this.#o.log.warn(
        `change-streamer: expired the snapshot reservation of ${r.taskID}: nothing heard for ` +
          `${secs} s (ZCACHE_CHANGE_STREAMER_ACK_TIMEOUT_MS)`,
      );
      dropped++;
    }
    if (dropped) this.#o.onDropped?.();
  }

  #onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const refusal = this.#gate.refusal(req, this.#wss.clients.size);
    if (refusal) {
      this.#o.log.warn(
        `change-streamer: refused ${req.socket.remoteAddress ?? 'a client'} ` +
          `(${refusal.status}): ${refusal.message}`,
      );
      return refuseUpgrade(socket, refusal);
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req.url ?? ''));
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
    const reservation: Reservation = {taskID, ws, minWatermark: watermark, lastHeardAt: Date.now()};
    this.#reservations.add(reservation);
    // The view-syncer re-sends its ack while it restores: that keeps the reservation alive.
    ws.on('message', () => (reservation.lastHeardAt = Date.now()));
    ws.on('close', () => this.#reservations.delete(reservation));
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

  /** Ends the reservations of `taskID`: its view-syncer has subscribed. */
  #release(taskID: string): void {
    for (const r of this.#reservations) {
      if (r.taskID !== taskID) continue;
      this.#reservations.delete(r);
      r.ws.close(1000, 'subscribed');
    }
  }

  async #serve(ws: WebSocket, params: SubscribeParams): Promise<void> {
    const sub = new ChangeStreamSubscription(ws, params);
    const refusal = await this.#refusal(params);
    if (refusal) {
      ws.send(encodeFrame(['error', refusal], 1));
      return ws.close(1000, 'refused');
    }
    if (sub.signal.aborted) return;
    this.#subscribers.add(sub);
    sub.signal.addEventListener('abort', () => this.#subscribers.delete(sub));
    if (params.initial && params.taskID) this.#release(params.taskID);
    await sub.send(['status', {tag: 'status'}]);
    for await (const msg of this.#o.streamer.subscribe(params.watermark, sub.signal)) {
      if (sub.signal.aborted) break;
      await sub.send(msg);
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
