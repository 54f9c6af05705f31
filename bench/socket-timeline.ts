import WebSocket from 'ws';

/**
 * What the real client's sockets send and receive, for splitting a cold hydration into the
 * server's part and the client's: `serverPartMs()` is from the first `changeDesiredQueries` the
 * client sent (or, if it sent its queries with the connection, the socket's opening) to the last
 * `pokeEnd` it received before the call — the time the server took, wire included; what is left
 * of the hydration is the client's own work (the same client for both servers).
 */
let querySentAt: number | undefined;
let openedAt: number | undefined;
let lastPokeEndAt: number | undefined;

export class TimelineWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    openedAt ??= performance.now();
    this.on('error', () => {});
    this.on('message', (data) => {
      if (String(data).startsWith('["pokeEnd"')) lastPokeEndAt = performance.now();
    });
    const send = this.send.bind(this) as (...a: unknown[]) => void;
    this.send = ((...a: unknown[]) => {
      if (querySentAt === undefined && String(a[0]).startsWith('["changeDesiredQueries"'))
        querySentAt = performance.now();
      send(...a);
    }) as WebSocket['send'];
  }
}

export function resetTimeline(): void {
  querySentAt = openedAt = lastPokeEndAt = undefined;
}

export function serverPartMs(): number {
  const from = querySentAt ?? openedAt;
  if (from === undefined || lastPokeEndAt === undefined || lastPokeEndAt < from) return NaN;
  return lastPokeEndAt - from;
}
