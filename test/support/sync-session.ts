import WebSocket from 'ws';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';

/**
 * One raw client over zcache's sync socket (the `ws` client speaking the protocol by hand, as an
 * attacker would): every downstream message is kept in order, and a caller can wait for the next
 * message that satisfies a predicate.
 */
export type SyncMessage = [string, Record<string, unknown>];

export class SyncSession {
  readonly messages: SyncMessage[] = [];
  readonly #ws: WebSocket;
  #waiters: {test: (m: SyncMessage) => boolean; resolve: (m: SyncMessage) => void}[] = [];
  #closed = false;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as SyncMessage;
      this.messages.push(m);
      this.#waiters = this.#waiters.filter((w) => !(w.test(m) && (w.resolve(m), true)));
    });
    ws.on('close', () => (this.#closed = true));
    ws.on('error', () => {});
  }

  /** Connects (v44) and resolves once the server said `connected` (or refused with an error). */
  static async open(
    port: number,
    params: {clientGroupID: string; clientID: string; authToken?: string; baseCookie?: string},
  ): Promise<SyncSession> {
    const q = new URLSearchParams({
      clientID: params.clientID,
      clientGroupID: params.clientGroupID,
      ts: '1',
      lmid: '0',
      ...(params.baseCookie ? {baseCookie: params.baseCookie} : {}),
    });
    const protocol = encodeSecProtocols(params.authToken ? {authToken: params.authToken} : {});
    const ws = new WebSocket(`ws://127.0.0.1:${port}/sync/v44/connect?${q}`, [protocol]);
    const session = new SyncSession(ws);
    // A refused connection gets its error instead of `connected`.
    await session.next((m) => m[0] === 'connected' || m[0] === 'error', 20_000);
    return session;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(message: unknown): void {
    this.#ws.send(JSON.stringify(message));
  }

  /** The first message received so far that satisfies `test`, else the next one (see next). */
  first(test: (m: SyncMessage) => boolean, timeoutMs: number): Promise<SyncMessage> {
    const seen = this.messages.find(test);
    return seen ? Promise.resolve(seen) : this.next(test, timeoutMs);
  }

  /** The next message (from now on) that satisfies `test`; rejects after `timeoutMs`. */
  next(test: (m: SyncMessage) => boolean, timeoutMs: number): Promise<SyncMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching message within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.#ws.close();
  }
}

/** Query hashes a poke part marks as got (`put`). */
export function gotHashes(m: SyncMessage): string[] {
  if (m[0] !== 'pokePart') return [];
  const got = (m[1].gotQueriesPatch as {op: string; hash: string}[] | undefined) ?? [];
  return got.filter((g) => g.op === 'put').map((g) => g.hash);
}

/** Query ids a transformError names. */
export function erroredHashes(m: SyncMessage): string[] {
  if (m[0] !== 'transformError') return [];
  return (m[1] as unknown as {id: string}[]).map((e) => e.id);
}
