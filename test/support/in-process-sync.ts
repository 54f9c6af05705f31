import http from 'node:http';
import {WebSocketServer} from 'ws';
import {parseConfig} from '../../src/config/index.js';
import {createViewSyncerHandler} from '../../src/server/view-syncer-handler.js';
import type {SyncConnectionHandler} from '../../src/server/sync-connection-handler.js';
import {createLogger, type LogSink} from '../../src/shared/log.js';
import {freePort} from './ports.js';
import type {ReplicationHarness} from '../replication/harness.js';

/**
 * A sync endpoint in the test process over a replication harness: the real view-syncer handler
 * behind a real WebSocket server (no worker processes), for fast protocol tests with the real
 * client. Version-ready signals come from the harness's replicator.
 */
export interface InProcessSync {
  url: string;
  /** ZERO_TASK_ID of this instance (the CVR owner it writes). */
  taskID: string;
  handler: SyncConnectionHandler;
  close(): Promise<void>;
}

export async function startInProcessSync(
  h: ReplicationHarness,
  sink?: LogSink,
): Promise<InProcessSync> {
  const port = await freePort();
  const config = parseConfig([], {
    ZERO_UPSTREAM_DB: h.db.url,
    ZERO_REPLICA_FILE: h.replicaFile,
    ZERO_PORT: String(port),
    NODE_ENV: 'development',
    ZERO_NUM_SYNC_WORKERS: '1',
  });
  const log = sink
    ? createLogger('info', 'text', {}, sink)
    : createLogger(process.env.ZCACHE_TEST_LOG === '1' ? 'debug' : 'warn');
  const handler = await createViewSyncerHandler({config, log, workerIndex: 0});
  const unsubscribe = h.node.replicator.onVersionReady(() => handler.onVersionReady());
  const wss = new WebSocketServer({noServer: true, handleProtocols: (p) => [...p][0] ?? false});
  const server = http.createServer((_req, res) => res.writeHead(200).end('OK'));
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      try {
        handler.onConnection(ws, {
          url,
          headers: req.headers,
          protocolHeader: req.headers['sec-websocket-protocol'],
        });
      } catch (e) {
        ws.close(1002, String(e).slice(0, 120));
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    taskID: config.taskID,
    handler,
    async close() {
      unsubscribe();
      for (const c of wss.clients) c.terminate();
      await handler.drain();
      await new Promise((r) => server.close(() => r(undefined)));
    },
  };
}
