import WebSocket from 'ws';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';

/**
 * A raw v44 sync socket that sends its initConnection in the `Sec-WebSocket-Protocol` header, as
 * the 0.25.9 client does, and records everything it receives, with when. For tests that need
 * what the Zero client hides: the exact error kind, the order and timing of messages.
 */
export type RawMessage = [string, Record<string, unknown>];

export interface RawSyncSocket {
  readonly ws: WebSocket;
  readonly messages: RawMessage[];
  /** `Date.now()` at each message's arrival. */
  readonly receivedAt: number[];
  /** The close code, once closed. */
  closeCode(): number | undefined;
  closed(): boolean;
  /** The cookie of the last poke that ended. */
  cookie(): string | undefined;
  /** Whether a received pokePart's text contains `text`. */
  sawInPoke(text: string): boolean;
}

export interface RawConnectParams {
  clientID: string;
  clientGroupID: string;
  baseCookie?: string | undefined;
}

/** Connects to `baseURL` (http://host:port) with `init` (the initConnection body) in the header. */
export function connectRawSync(
  baseURL: string,
  params: RawConnectParams,
  init: Record<string, unknown>,
): RawSyncSocket {
  const q = new URLSearchParams({
    clientID: params.clientID,
    clientGroupID: params.clientGroupID,
    ts: '1',
    lmid: '0',
    baseCookie: params.baseCookie ?? '',
  });
  const ws = new WebSocket(`${baseURL.replace(/^http/, 'ws')}/sync/v44/connect?${q}`, [
    encodeSecProtocols({initConnectionMessage: ['initConnection', init] as never}),
  ]);
  const messages: RawMessage[] = [];
  const receivedAt: number[] = [];
  let code: number | undefined;
  ws.on('message', (d) => {
    messages.push(JSON.parse(String(d)) as RawMessage);
    receivedAt.push(Date.now());
  });
  ws.on('close', (c) => (code = c));
  ws.on('error', () => {});
  return {
    ws,
    messages,
    receivedAt,
    closeCode: () => code,
    closed: () => code !== undefined,
    cookie: () =>
      [...messages].reverse().find((m) => m[0] === 'pokeEnd')?.[1].cookie as string | undefined,
    sawInPoke: (text) =>
      messages.some((m) => m[0] === 'pokePart' && JSON.stringify(m[1]).includes(text)),
  };
}
