import {parsePushResponse, type PushResponse} from '../protocol/api-push-response.js';
import type {
  PushFailedBody,
  PushFailedServerReason,
  RequestFailure,
} from '../protocol/sync-errors.js';
import type {CustomMutation, MutationID, PushBody} from '../protocol/sync-up-push.js';
import {internalErrorMessage, newErrorId} from '../shared/error-id.js';
import type {Logger} from '../shared/log.js';
import {ANOTHER_USER_MESSAGE, answeredForAnotherUser} from './answered-user.js';
import {callApiServer, type ApiServerAuth, type ApiServerTarget} from './api-server-call.js';
import type {EndpointAllowList} from './endpoint-url.js';

/**
 * The custom-mutation pushes of one client group, forwarded to ZERO_MUTATE_URL (fact sheet §7.4):
 * pushes queue up while a request is in flight; the queued ones are merged per client (mutations
 * concatenated, the other fields from the client's first push) and sent one request at a time, so
 * the API server sees each client's mutations in order. Pushes are merged only when they came with
 * the same credentials: each push reaches the API server with the token and cookies of the
 * connection that sent it, never with another connection's (which may be another user's).
 *
 * Outcomes: successes and application errors come back through replication (the API server
 * writes `clients` and `mutations` rows), so nothing is sent for them here. A request that fails
 * as a whole, and mutations the API server calls out of order, become a PushFailed error to the
 * connected clients whose mutations they were. zcache never retries a push itself: the clients
 * keep unconfirmed mutations and send them again when they reconnect, and the API server's
 * last-mutation-ID check skips the ones it already applied — so a mutation is neither lost nor
 * applied twice.
 */
export interface PushingClient {
  readonly clientID: string;
  /** Sends `['error', body]` and closes the client's socket. */
  failPush(body: PushFailedBody): void;
}

export interface PushForwarderOptions extends Omit<ApiServerTarget, 'url' | 'log'> {
  endpoint: EndpointAllowList;
  log: Logger;
}

interface Queued {
  push: PushBody & {mutations: readonly CustomMutation[]};
  auth: ApiServerAuth;
}

export class PushForwarder {
  readonly #o: PushForwarderOptions;
  readonly #clients: () => Iterable<PushingClient>;
  #queue: Queued[] = [];
  #running = false;
  #userURL: string | undefined;
  #idle: Promise<void> = Promise.resolve();

  /** `clients` lists the group's connected clients at the time a failure is reported. */
  constructor(opts: PushForwarderOptions, clients: () => Iterable<PushingClient>) {
    this.#o = opts;
    this.#clients = clients;
  }

  /** The URL the group's first client asked for (`userPushURL`); later ones do not change it. */
  useClientURL(url: string | undefined): void {
    this.#userURL ??= url;
  }

  enqueue(push: PushBody & {mutations: readonly CustomMutation[]}, auth: ApiServerAuth): void {
    if (push.mutations.length === 0) return;
    this.#queue.push({push, auth});
    if (this.#running) return;
    this.#running = true;
    this.#idle = this.#drain().finally(() => (this.#running = false));
  }

  /** Resolves when every push queued so far has been answered (for draining and tests). */
  idle(): Promise<void> {
    return this.#idle;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const batch = mergePerClient(this.#queue.splice(0));
      for (const q of batch) {
        try {
          await this.#send(q);
        } catch (e) {
          // The cause may quote the API server's URL: the client gets an id to find it in the log.
          const id = newErrorId();
          this.#o.log.error(`push forwarding failed (error id ${id})`, e);
          this.#fail(q.push, {
            origin: 'zeroCache',
            reason: 'internal',
            message: internalErrorMessage('zcache could not forward the push', id),
          });
        }
      }
    }
  }

  async #send({push, auth}: Queued): Promise<void> {
    const endpoint = this.#o.endpoint.choose(this.#userURL);
    if (!endpoint.ok)
      return this.#fail(push, {origin: 'zeroCache', reason: 'internal', message: endpoint.message});
    const target: ApiServerTarget = {...this.#o, url: endpoint.url};
    // The token travels as a header, never in the body; a 0.25 API server refuses unknown keys.
    const {auth: _token, traceparent, ...body} = push;
    const res = await callApiServer(target, auth, body, traceparent);
    if (!res.ok) return this.#fail(push, {...res.failure, message: res.message});
    this.#report(push, parsePushResponse(res.body), auth);
  }

  #report(push: Queued['push'], response: PushResponse, auth: ApiServerAuth): void {
    switch (response.kind) {
      case 'results': {
        if (answeredForAnotherUser(response.userID, auth)) {
          return this.#fail(push, {
            origin: 'zeroCache',
            reason: 'http',
            status: 401,
            message: ANOTHER_USER_MESSAGE,
          });
        }
        const outOfOrder = response.results
          .filter((r) => r.result.kind === 'oooMutation')
          .map((r) => r.id);
        if (outOfOrder.length)
          this.#fail(
            push,
            {
              origin: 'server',
              reason: 'oooMutation',
              message: 'The API server received mutations out of order; the client resends them',
            },
            outOfOrder,
          );
        return;
      }
      case 'failed':
        return this.#fail(
          push,
          {...response.failure, message: response.message, details: response.details},
          response.mutationIDs?.length ? response.mutationIDs : undefined,
        );
      case 'unparsable':
        return this.#fail(push, {origin: 'zeroCache', reason: 'parse', message: response.message});
    }
  }

  /** Sends PushFailed to each connected client with a mutation among `ids` (default: all). */
  #fail(
    push: Queued['push'],
    failure: Pick<PushFailedBody, 'message' | 'details'> & RequestFailure<PushFailedServerReason>,
    ids: readonly MutationID[] = push.mutations.map((m) => ({id: m.id, clientID: m.clientID})),
  ): void {
    const body = {kind: 'PushFailed', ...failure, mutationIDs: ids} as PushFailedBody;
    this.#o.log.warn(`push of client group ${push.clientGroupID} failed: ${body.message}`);
    const owners = new Set(ids.map((i) => i.clientID));
    for (const c of this.#clients()) if (owners.has(c.clientID)) c.failPush(body);
  }
}

/**
 * Each client's consecutive pushes merged into one request: its mutations in order, the rest from
 * the first push. A push whose credentials or versions differ from the client's previous one
 * starts a new request, so the client's requests still go out in the order it pushed.
 */
function mergePerClient(queued: readonly Queued[]): Queued[] {
  const batches: Queued[] = [];
  const lastOfClient = new Map<string, number>();
  for (const q of queued) {
    const clientID = q.push.mutations[0]!.clientID;
    const i = lastOfClient.get(clientID);
    const prev = i === undefined ? undefined : batches[i]!;
    if (prev && mergeable(prev, q)) {
      batches[i!] = {
        auth: prev.auth,
        push: {...prev.push, mutations: [...prev.push.mutations, ...q.push.mutations]},
      };
    } else {
      lastOfClient.set(clientID, batches.length);
      batches.push({push: q.push, auth: q.auth});
    }
  }
  return batches;
}

/** Whether `b` may travel in `a`'s request: the same credentials and the same versions. */
function mergeable(a: Queued, b: Queued): boolean {
  return (
    a.auth.token === b.auth.token &&
    a.auth.cookie === b.auth.cookie &&
    a.push.pushVersion === b.push.pushVersion &&
    a.push.schemaVersion === b.push.schemaVersion
  );
}
