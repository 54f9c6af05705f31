import http from 'node:http';
import type {Socket} from 'node:net';
import {isAdmin, refuseAdmin, type AdminAuthConfig} from './admin-auth.js';

/**
 * The HTTP side of ZERO_PORT: `/` and `/keepalive` answer `OK` for health checks and load
 * balancers (each `/keepalive` also calls `onKeepalive`, the heartbeat of HeartbeatMonitor);
 * `/statz` reports the node's state to admins (see admin-auth.ts). WebSocket upgrades go to
 * `onUpgrade` (the supervisor's hand-off to sync workers).
 */
export type UpgradeListener = (req: http.IncomingMessage, socket: Socket, head: Buffer) => void;

export interface StatzSource {
  auth: AdminAuthConfig;
  report(): Record<string, unknown>;
}

export interface HttpEndpoints {
  onUpgrade?: UpgradeListener;
  statz?: StatzSource;
  onKeepalive?: () => void;
}

export function startHttpServer(
  port: number,
  {onUpgrade, statz, onKeepalive}: HttpEndpoints = {},
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/' || path === '/keepalive')) {
      if (path === '/keepalive') onKeepalive?.();
      res.writeHead(200, {'Content-Type': 'text/plain'}).end('OK');
      return;
    }
    if (req.method === 'GET' && path === '/statz' && statz) {
      if (!isAdmin(req, statz.auth)) return refuseAdmin(res);
      res
        .writeHead(200, {'Content-Type': 'application/json'})
        .end(JSON.stringify(statz.report(), null, 2));
      return;
    }
    res.writeHead(404, {'Content-Type': 'text/plain'}).end('Not Found');
  });
  if (onUpgrade) {
    server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) =>
      onUpgrade(req, socket, head),
    );
  }
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new Error(`port ${port} is in use: stop what uses it or set ZERO_PORT to another port`)
          : e,
      ),
    );
    server.listen(port, () => resolve(server));
  });
}
