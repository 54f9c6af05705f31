import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {mustGetMutator, mustGetQuery} from '@rocicorp/zero';
import {handleMutateRequest, handleQueryRequest} from '@rocicorp/zero/server';
import {zeroPostgresJS} from '@rocicorp/zero/server/adapters/postgresjs';
import {mutators} from '../shared/mutators.js';
import {queries} from '../shared/queries.js';
import {schema, zql, type Context} from '../shared/schema.js';

/**
 * The app's API server, the part a Zero app writes itself: zcache calls `POST /api/query`
 * (ZERO_QUERY_URL) to turn named queries into ASTs and `POST /api/mutate` (ZERO_MUTATE_URL) to run
 * mutators against Postgres, forwarding the client's `Authorization` header. Both answer through
 * Zero's helpers, whose `QueryResponse` / `MutateResponse` name the user the request was made for
 * (zero-cache 1.x checks it against the connection's `userID`).
 *
 * Identity here is deliberately simple — the bearer token is a user id, checked against the user
 * table. A real app verifies a signed token (JWT) or a session cookie instead; nothing else changes.
 */
export interface ApiServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startApiServer(opts: {
  /** The app's Postgres (the one zcache replicates). */
  databaseURL: string;
  port: number;
  host?: string;
}): Promise<ApiServer> {
  const dbProvider = zeroPostgresJS(schema, opts.databaseURL);

  /** The signed-in user, or undefined when the token names nobody we know. */
  async function contextOf(req: http.IncomingMessage): Promise<Context | undefined> {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return undefined;
    const user = await dbProvider.run(zql.user.where('id', token).one());
    return user ? {userID: user.id} : undefined;
  }

  async function answer(req: http.IncomingMessage, body: unknown): Promise<[number, unknown]> {
    const url = new URL(req.url ?? '/', 'http://api');
    const ctx = await contextOf(req);
    if (!ctx) return [401, {error: 'unknown user: send Authorization: Bearer <a user id>'}];
    const {userID} = ctx;
    switch (url.pathname) {
      case '/api/query':
        return [
          200,
          await handleQueryRequest({
            schema,
            userID,
            query: url.searchParams,
            body: body as never,
            handler: (name, args) => mustGetQuery(queries, name).fn({args, ctx}),
          }),
        ];
      case '/api/mutate':
        return [
          200,
          await handleMutateRequest({
            dbProvider,
            userID,
            query: url.searchParams,
            body: body as never,
            handler: (transact) =>
              transact((tx, name, args) => mustGetMutator(mutators, name).fn({tx, args, ctx})),
          }),
        ];
      default:
        return [404, {error: `no route ${url.pathname}`}];
    }
  }

  const server = http.createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : null;
      const [status, json] = await answer(req, body);
      res.writeHead(status, {'Content-Type': 'application/json'}).end(JSON.stringify(json));
    } catch (e) {
      res.writeHead(500, {'Content-Type': 'application/json'});
      res.end(JSON.stringify({error: `api server: ${(e as Error).message}`}));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
