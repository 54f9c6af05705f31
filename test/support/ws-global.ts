import WebSocket from 'ws';

/**
 * The real Zero client needs a WebSocket global on Node 20. `ws` emits socket errors (e.g.
 * ECONNREFUSED while zcache restarts) as 'error' events, which become unhandled errors unless
 * someone listens; the client only sees them through its own event handlers, so a no-op
 * listener is added to each socket.
 */
class QuietWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on('error', () => {});
  }
}

export function installWebSocketGlobal(): void {
  (globalThis as {WebSocket?: unknown}).WebSocket = QuietWebSocket;
}
