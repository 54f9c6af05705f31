import net from 'node:net';

/**
 * A TCP load balancer for tests, standing where a production deployment has its own in front of
 * the view-syncers: each new connection goes to the next backend in turn (round robin), and to
 * the one after it when that one refuses — so when a view-syncer dies, reconnecting clients land
 * on another. Established connections are piped byte for byte; nothing is inspected.
 */
export interface TcpBalancer {
  readonly port: number;
  /** Which backend port each accepted connection went to, in order. */
  readonly routed: readonly number[];
  close(): Promise<void>;
}

export async function startTcpBalancer(backends: () => readonly number[]): Promise<TcpBalancer> {
  let next = 0;
  const routed: number[] = [];
  const open = new Set<net.Socket>();

  function connect(client: net.Socket, ports: readonly number[], tries: number): void {
    if (tries >= ports.length) return void client.destroy();
    const port = ports[(next + tries) % ports.length]!;
    const upstream = net.connect(port, '127.0.0.1');
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      next = (next + tries + 1) % ports.length;
      routed.push(port);
      open.add(upstream);
      upstream.on('close', () => {
        open.delete(upstream);
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      if (!connected) connect(client, ports, tries + 1);
    });
  }

  const server = net.createServer({pauseOnConnect: true}, (client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    connect(client, backends(), 0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    routed,
    async close() {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
