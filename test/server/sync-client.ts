import WebSocket from 'ws';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';

/**
 * A raw protocol client that stays open (the `ws` client, no Zero client): it connects to a client
 * group with an optional token and Cookie header, sends messages as the test says, and lets the
 * test wait for what comes back. For tests of what one client may see of another's group.
 */
export type SyncMessage = [string, Record<string, unknown>];

export interface SyncClientOptions {
  clientGroupID: string;
  clientID: string;
  token?: string;
  cookie?: string;
  /** The sync protocol version to connect with (44, the 0.25.9 client's, unless said). */
  version?: number;
  baseCookie?: string;
}

export interface SyncClient {
  readonly messages: readonly SyncMessage[];
  /** Resolves with the close code once the socket has closed. */
  readonly closed: Promise<number>;
  send(msg: unknown): void;
  /** Resolves with the first message (from the start) that matches; rejects after `timeoutMs`. */
  waitFor(match: (m: SyncMessage) => boolean, timeoutMs?: number): Promise<SyncMessage>;
  close(): void;
}

/** Connects and resolves once the server has sent `connected`. */
export function openSyncClient(port: number, opts: SyncClientOptions): Promise<SyncClient> {
  const q = new URLSearchParams({
    clientID: opts.clientID,
    clientGroupID: opts.clientGroupID,
    ts: '1',
    lmid: '0',
    ...(opts.baseCookie ? {baseCookie: opts.baseCookie} : {}),
  });
  const ws = new WebSocket(
    `ws://127.0.0.1:${port}/sync/v${opts.version ?? 44}/connect?${q}`,
    [encodeSecProtocols({authToken: opts.token})],
    {headers: opts.cookie ? {Cookie: opts.cookie} : {}},
  );
  const messages: SyncMessage[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (d) => {
    messages.push(JSON.parse(String(d)) as SyncMessage);
    for (const l of listeners) l();
  });
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const client: SyncClient = {
    messages,
    closed,
    send: (msg) => ws.send(JSON.stringify(msg)),
    close: () => ws.close(),
    waitFor(match, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(match);
          if (!found) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`no matching message within ${timeoutMs} ms: ${JSON.stringify(messages)}`),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
  return client.waitFor((m) => m[0] === 'connected').then(() => client);
}

/** The rows of `table` a client was sent in pokes (puts only). */
export function rowsPut(
  messages: readonly SyncMessage[],
  table: string,
): Record<string, unknown>[] {
  type RowOp = {op: string; tableName: string; value?: Record<string, unknown>};
  return messages
    .filter((m) => m[0] === 'pokePart')
    .flatMap((m) => (m[1].rowsPatch as RowOp[] | undefined) ?? [])
    .filter((p) => p.op === 'put' && p.tableName === table)
    .map((p) => p.value!);
}

/** Resolves once the poke that told the client it has query `hash` has ended. */
export async function waitForGot(client: SyncClient, hash: string): Promise<void> {
  const gotPut = (m: SyncMessage) =>
    ((m[1].gotQueriesPatch as {op: string; hash: string}[] | undefined) ?? []).some(
      (g) => g.op === 'put' && g.hash === hash,
    );
  const part = await client.waitFor((m) => m[0] === 'pokePart' && gotPut(m));
  await client.waitFor((m) => m[0] === 'pokeEnd' && m[1].pokeID === part[1].pokeID);
}
