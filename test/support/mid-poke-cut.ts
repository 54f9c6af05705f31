import WebSocket from 'ws';

/**
 * A WebSocket global for the real Zero client that can lose a client's connection in the middle
 * of a poke: once a client is armed, its socket delivers the next `pokePart` and then nothing
 * more — the `pokeEnd` never reaches the client — and closes. The client holds a poke it must not
 * apply and reconnects from the last cookie it did apply. Sockets are told apart by the
 * `clientID` of their connect URL. Socket errors get a no-op listener, as in ws-global.ts.
 */
export class MidPokeCut {
  readonly #armed = new Set<string>();
  /** How many pokes were cut so far. */
  cuts = 0;

  arm(clientID: string): void {
    this.#armed.add(clientID);
  }

  install(): void {
    (globalThis as {WebSocket?: unknown}).WebSocket = this.#socketClass();
  }

  #socketClass() {
    const armed = this.#armed;
    const cutSockets = new WeakSet<WebSocket>();
    const onCut = () => this.cuts++;
    return class CuttableWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        this.on('error', () => {});
        const clientID = new URL(String(args[0])).searchParams.get('clientID') ?? '';
        // Registered before the client's own listener, so it sees each message first.
        this.on('message', (data: Buffer) => {
          if (!armed.has(clientID) || !data.toString('utf8', 0, 12).startsWith('["pokePart"'))
            return;
          armed.delete(clientID);
          cutSockets.add(this);
          onCut();
          this.terminate();
        });
      }

      // Frames already read from the wire are still emitted after terminate(); drop them.
      override emit(event: string | symbol, ...args: unknown[]): boolean {
        if (event === 'message' && cutSockets.has(this)) return false;
        return super.emit(event, ...args);
      }
    };
  }
}
