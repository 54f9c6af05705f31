import {IncomingMessage} from 'node:http';
import {newErrorId} from '../shared/error-id.js';
import type {Socket} from 'node:net';
import {WebSocketServer, type ServerOptions, type WebSocket} from 'ws';
import type {ZeroConfig} from '../config/index.js';
import {
  decodeSecProtocols,
  HANDOFF_FAILURE_CLOSE_CODE,
  handoffCloseReason,
  parseConnectParams,
  parseConnectPath,
} from '../protocol/sync-connect.js';
import {h32} from '../shared/hash.js';
import type {Logger} from '../shared/log.js';
import type {HandedOffRequest} from './ipc-messages.js';
import type {SyncConnectionRequest} from './sync-connection-handler.js';

/**
 * The WebSocket upgrade hand-off (fact sheet §1.1, §10.2). The supervisor receives every upgrade
 * on ZERO_PORT, checks the connect request just enough to route it (path, query parameters,
 * `Sec-WebSocket-Protocol`), and sends the raw socket to sync worker
 * `h32(taskID + '/' + clientGroupID) % numSyncWorkers`, which completes the handshake. Any failure
 * before a worker owns the socket completes the handshake where it happened and closes with 1002
 * and `String(error)` (at most 123 bytes) as reason; no JSON error message is sent.
 */

/** A placeholder origin for request URLs (only the path and query are meaningful). */
const URL_BASE = 'http://zcache.invalid';

/** The worker that serves `clientGroupID` (stable for a task, spread across tasks). */
export function syncWorkerIndex(taskID: string, clientGroupID: string, numWorkers: number): number {
  return h32(taskID + '/' + clientGroupID) % numWorkers;
}

/**
 * The worker index for an upgrade request. Throws (a ConnectRequestError for a malformed request)
 * when the request cannot be served by a sync worker.
 */
export function routeUpgrade(
  request: Pick<IncomingMessage, 'url' | 'headers'>,
  taskID: string,
  numWorkers: number,
): number {
  const url = new URL(request.url ?? '', URL_BASE);
  const path = parseConnectPath(url.pathname);
  if (path.worker !== 'sync') {
    throw new Error(`Invalid URL: ${request.url}: this server serves only /sync connections`);
  }
  const params = parseConnectParams(url.searchParams);
  decodeSecProtocols(protocolHeader(request.headers));
  if (numWorkers === 0) {
    throw new Error('Received a sync request with no sync workers (ZERO_NUM_SYNC_WORKERS=0)');
  }
  return syncWorkerIndex(taskID, params.clientGroupID, numWorkers);
}

/** The request as a worker needs it to complete the handshake (JSON-serializable). */
export function handedOffRequest(req: IncomingMessage, head: Buffer): HandedOffRequest {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    head: head.toString('base64'),
  };
}

/**
 * The largest upstream message accepted when no configuration says (ZERO_WEBSOCKET_MAX_PAYLOAD_BYTES
 * does): a client sending more is closed with 1009 (message too big), other clients are unaffected.
 */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

/**
 * ws options for sync sockets: no own server, per-message deflate when configured, and the
 * client's `Sec-WebSocket-Protocol` echoed exactly (browsers fail the socket otherwise, §1.3).
 * Throws when ZERO_WEBSOCKET_COMPRESSION_OPTIONS is not a JSON object.
 */
export function syncWebSocketServerOptions(config?: ZeroConfig): ServerOptions {
  const options: ServerOptions = {
    noServer: true,
    handleProtocols: echoClientProtocol,
    maxPayload: config?.websocketMaxPayloadBytes ?? MAX_MESSAGE_BYTES,
  };
  if (config?.websocketCompression) {
    options.perMessageDeflate = config.websocketCompressionOptions
      ? parseCompressionOptions(config.websocketCompressionOptions)
      : true;
  }
  return options;
}

function parseCompressionOptions(text: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `ZERO_WEBSOCKET_COMPRESSION_OPTIONS is not valid JSON (${e instanceof Error ? e.message : e}): ${text}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`ZERO_WEBSOCKET_COMPRESSION_OPTIONS must be a JSON object, got: ${text}`);
  }
  return value;
}

/** The client offers one protocol value; answer with exactly that value. */
function echoClientProtocol(protocols: Set<string>, req: IncomingMessage): string | false {
  const offered = protocolHeader(req.headers)?.trim();
  if (offered !== undefined && protocols.has(offered)) return offered;
  return protocols.values().next().value ?? false;
}

function protocolHeader(headers: IncomingMessage['headers']): string | undefined {
  return headers['sec-websocket-protocol'];
}

/** A comma-separated list of RFC 7230 tokens: what ws accepts as a protocol header. */
const PROTOCOL_LIST =
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*,[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/**
 * Completes the handshake and closes with 1002 and the error as reason (§1.1). A protocol header
 * that ws itself cannot parse is dropped first, so that the client still sees the 1002 close
 * instead of an HTTP 400.
 */
export function closeWithHandoffFailure(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  error: unknown,
  log: Logger,
): void {
  const reason = handoffCloseReason(error);
  log.debug(`sync connection refused (${req.url}): ${reason}`);
  const header = protocolHeader(req.headers);
  if (header !== undefined && !PROTOCOL_LIST.test(header.trim())) {
    delete req.headers['sec-websocket-protocol'];
  }
  socket.on('error', () => {});
  wss.handleUpgrade(req, socket, head, (ws) => ws.close(HANDOFF_FAILURE_CLOSE_CODE, reason));
}

/**
 * Worker side: rebuilds the request around the received socket and completes the handshake.
 * `accept` gets the WebSocket and its request; when it throws, the socket closes with 1002.
 */
export function completeHandoff(
  wss: WebSocketServer,
  handed: HandedOffRequest,
  socket: Socket,
  accept: (ws: WebSocket, request: IncomingMessage) => void,
  log: Logger,
): void {
  const req = new IncomingMessage(socket);
  req.method = handed.method;
  req.url = handed.url;
  req.headers = handed.headers;
  const head = Buffer.from(handed.head, 'base64');
  const onHandshakeError = (e: Error) =>
    log.debug(`sync socket error during the handshake: ${e.message}`);
  socket.on('error', onHandshakeError);
  wss.handleUpgrade(req, socket, head, (ws) => {
    socket.removeListener('error', onHandshakeError);
    try {
      accept(ws, req);
    } catch (e) {
      // The close reason reaches the client: it gets an id, the log gets the failure.
      const id = newErrorId();
      log.warn(`sync connection failed in the worker (${handed.url}; error id ${id}):`, e);
      ws.close(HANDOFF_FAILURE_CLOSE_CODE, handoffCloseReason(`zcache failed (error id ${id})`));
    }
  });
}

/** The handler's view of a handed-off request. */
export function connectionRequest(req: IncomingMessage): SyncConnectionRequest {
  return {
    url: new URL(req.url ?? '/', URL_BASE),
    headers: req.headers,
    protocolHeader: protocolHeader(req.headers),
  };
}
