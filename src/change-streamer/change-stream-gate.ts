import http from 'node:http';
import type {Duplex} from 'node:stream';
import {passwordMatches} from '../shared/password-match.js';

/**
 * Who may open a socket on the change-streamer port, decided on the upgrade request before any
 * WebSocket exists: with a shared secret (ZCACHE_CHANGE_STREAMER_SECRET) configured, only requests
 * carrying `Authorization: Bearer <secret>` (compared in constant time); and never more than
 * `maxConnections` sockets at once, so a flood of connections cannot exhaust the manager.
 *
 * A refusal is a plain HTTP response (401 or 503) whose body says what to do; the change-stream
 * client shows that body in its log.
 */
export interface UpgradeRefusal {
  readonly status: 401 | 503;
  readonly message: string;
}

export interface ChangeStreamGateOptions {
  secret?: string | undefined;
  maxConnections: number;
}

export class ChangeStreamGate {
  readonly #secret: string | undefined;
  readonly #maxConnections: number;

  constructor(o: ChangeStreamGateOptions) {
    this.#secret = o.secret || undefined;
    this.#maxConnections = o.maxConnections;
  }

  get requiresSecret(): boolean {
    return this.#secret !== undefined;
  }

  /** Why `req` may not open a socket when `open` sockets exist already, or null to let it in. */
  refusal(req: http.IncomingMessage, open: number): UpgradeRefusal | null {
    if (this.#secret !== undefined && !this.#carriesSecret(req)) {
      return {
        status: 401,
        message:
          'this change-streamer requires its shared secret: set ZCACHE_CHANGE_STREAMER_SECRET on ' +
          'the view-syncer to the same value as on the replication-manager',
      };
    }
    if (open >= this.#maxConnections) {
      return {
        status: 503,
        message:
          `this change-streamer already serves ${open} connections ` +
          `(ZCACHE_CHANGE_STREAMER_MAX_CONNECTIONS=${this.#maxConnections}): retry later, or ` +
          'raise the limit on the replication-manager',
      };
    }
    return null;
  }

  #carriesSecret(req: http.IncomingMessage): boolean {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return m !== null && passwordMatches(m[1]!, this.#secret!);
  }
}

/** The header a view-syncer sends with every change-stream request when it has a secret. */
export function secretHeaders(secret: string | undefined): Record<string, string> {
  return secret ? {Authorization: `Bearer ${secret}`} : {};
}

/** Answers an upgrade request with `refusal` as a plain HTTP response and closes the socket. */
export function refuseUpgrade(socket: Duplex, refusal: UpgradeRefusal): void {
  const body = `${refusal.message}\n`;
  socket.end(
    `HTTP/1.1 ${refusal.status} ${http.STATUS_CODES[refusal.status]}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
