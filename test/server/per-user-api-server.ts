import http from 'node:http';
import {freePort} from '../support/ports.js';

/**
 * An app API server that answers per user, for tests of what one user may get of another's:
 * - `POST /query`: the custom query `myItems` becomes "items whose owner is the caller", the caller
 *   being `X` for a bearer token `token-X…` or a `user=X` cookie (else `nobody`);
 * - `POST /mutate`: records each push with the credentials it came with and answers every mutation
 *   with success; `holdPushes()` makes the next push wait until the returned release is called.
 * Request bodies are written by hand (no @rocicorp/zero/server), the shapes of fact sheet §7.3–7.4.
 */
export interface RecordedPush {
  clientGroupID: string;
  authorization: string | undefined;
  cookie: string | undefined;
  mutationIDs: number[];
}

export interface PerUserApiServer {
  readonly url: string;
  readonly pushes: RecordedPush[];
  /** The next push is answered only once the returned function is called. */
  holdPushes(): () => void;
  close(): Promise<void>;
}

export function callerOf(req: http.IncomingMessage): string {
  const token = /^Bearer token-([a-z]+)/.exec(req.headers.authorization ?? '')?.[1];
  const cookieUser = /(?:^|;\s*)user=([a-z]+)/.exec(req.headers.cookie ?? '')?.[1];
  return token ?? cookieUser ?? 'nobody';
}

const ownedBy = (owner: string) => ({
  table: 'item',
  where: {
    type: 'simple',
    op: '=',
    left: {type: 'column', name: 'owner'},
    right: {type: 'literal', value: owner},
  },
  orderBy: [['id', 'asc']],
});

type TransformRequest = ['transform', {id: string; name: string}[]];
type PushRequest = {clientGroupID: string; mutations: {id: number; clientID: string}[]};

export async function startPerUserApiServer(): Promise<PerUserApiServer> {
  const pushes: RecordedPush[] = [];
  let hold: Promise<void> | undefined;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString());
    let answer: unknown;
    if (req.url?.startsWith('/query')) {
      const [, queries] = body as TransformRequest;
      const caller = callerOf(req);
      answer = ['transformed', queries.map(({id, name}) => ({id, name, ast: ownedBy(caller)}))];
    } else {
      const push = body as PushRequest;
      pushes.push({
        clientGroupID: push.clientGroupID,
        authorization: req.headers.authorization,
        cookie: req.headers.cookie,
        mutationIDs: push.mutations.map((m) => m.id),
      });
      const waitFor = hold;
      hold = undefined;
      await waitFor;
      answer = {
        mutations: push.mutations.map((m) => ({id: {clientID: m.clientID, id: m.id}, result: {}})),
      };
    }
    res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify(answer));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    pushes,
    holdPushes() {
      let release!: () => void;
      hold = new Promise((r) => (release = r));
      return release;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
