import http from 'node:http';

/**
 * The HTTP side of ZERO_PORT: `/` and `/keepalive` answer `OK` for health checks and load balancers.
 * (The sync WebSocket endpoints, /statz and the keepalive heartbeat monitor arrive with the sync
 * server.)
 */
export function startHttpServer(port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/' || path === '/keepalive')) {
      res.writeHead(200, {'Content-Type': 'text/plain'}).end('OK');
      return;
    }
    res.writeHead(404, {'Content-Type': 'text/plain'}).end('Not Found');
  });
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
