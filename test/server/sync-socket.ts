import WebSocket from 'ws';

/**
 * A raw WebSocket to zcache's sync endpoint (the `ws` client, no Zero client): what the handshake
 * answered, every message, and how the socket closed.
 */
export interface SyncSocketOutcome {
  /** The subprotocol the server echoed ('' when none). */
  protocol: string;
  /** Parsed JSON text frames, in order. */
  messages: unknown[];
  closeCode: number;
  closeReason: string;
}

export interface SyncSocketOptions {
  /** Offered as the one subprotocol (validated by the ws client). */
  protocol?: string;
  /** Raw request headers, e.g. a protocol header the ws client would refuse to send. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Connects to `ws://127.0.0.1:{port}{pathAndQuery}` and resolves when the socket has closed. */
export function runSyncSocket(
  port: number,
  pathAndQuery: string,
  opts: SyncSocketOptions = {},
): Promise<SyncSocketOutcome> {
  const url = `ws://127.0.0.1:${port}${pathAndQuery}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocol === undefined ? [] : [opts.protocol], {
      headers: opts.headers,
    });
    const messages: unknown[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${url}: no close within ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${url}: ${e.message}`));
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({protocol: ws.protocol, messages, closeCode: code, closeReason: String(reason)});
    });
  });
}

/** A connect path with the required query parameters (§1.2). */
export function connectPath(clientGroupID: string, clientID = 'c', base = ''): string {
  const q = new URLSearchParams({clientID, clientGroupID, ts: '1', lmid: '0'});
  return `${base}/sync/v44/connect?${q}`;
}
