import type {WebSocket} from 'ws';
import {POKE_PER_CONNECTION_VERSION, type ConnectParams} from '../protocol/sync-connect.js';
import type {DownstreamMessage} from '../protocol/sync-down.js';
import {isBackoffErrorKind, ProtocolError} from '../protocol/sync-errors.js';
import {
  parseUpstreamMessage,
  parseUpstreamText,
  type UpstreamMessage,
} from '../protocol/sync-up.js';
import type {ApiServerAuth} from '../custom/api-server-call.js';
import {internalErrorMessage, newErrorId} from '../shared/error-id.js';
import type {Logger} from '../shared/log.js';
import type {ClientHandle, ViewSyncer} from './view-syncer.js';
import type {GroupWrites} from './group-writes.js';
import {InspectorLogin} from './inspector.js';

/**
 * One client's socket (fact sheet §1.4–1.7): upstream messages are parsed strictly and handled one
 * at a time, in order; `ping` is answered at once; an idle socket gets an unsolicited `pong` every
 * 6 s. A ProtocolError is sent as `['error', body]` and closes this socket only (transient kinds
 * keep it open); any other failure is reported as `Internal`, its details only in the log.
 */
const IDLE_PONG_MS = 6000;
/**
 * Bytes a client may leave unread before it is dropped: a client that stops reading would
 * otherwise make the server buffer its pokes without bound. A dropped client reconnects with its
 * last complete cookie and catches up.
 */
export const MAX_UNREAD_BYTES = 32 * 1024 * 1024;
/**
 * With the initConnection in the header, `connected` waits until the group has admitted the
 * connection (CVR loaded, principal and cookie checked), at most this long. The 0.25.9 client
 * handles `connected` asynchronously: an error that overtook it (the CVR database away, a
 * refused principal) left that client believing it was connected on a closed socket, and it
 * then stopped for good. Without `connected`, the error fails its connect attempt cleanly.
 */
const CONNECTED_AFTER_MS = 2000;
/**
 * A close that asks the client to reconnect (no error, or a back-off kind such as Rehome) sent
 * within this long after `connected` waits out the rest. The 0.25.9
 * client reads its store before it marks itself connected; a close that reaches it meanwhile is
 * undone by that mark, and the client then believes it is connected on a socket it no longer
 * has — until its next ping fails an assertion and it stops in its error state, for good. (A
 * group that loses a takeover race just after admitting a connection closes it that fast.)
 */
const CLOSE_AFTER_CONNECTED_MS = 1000;

/** How a connection's credentials are checked, beyond what the group checks. */
export interface CredentialChecks {
  /** The token's payload for permission rules, or its refusal (AuthInvalidated) thrown. */
  verify?: ((token: string | undefined) => Promise<unknown>) | undefined;
  /**
   * 1.x: the API server's verdict on the credentials (an empty transform), asked before the
   * connection gets anything of its group and then every `revalidateIntervalMs`: the error to
   * close the connection with, if it refused them.
   */
  revalidate?: ((auth: ApiServerAuth) => Promise<ProtocolError | undefined>) | undefined;
  revalidateIntervalMs?: number | undefined;
}

export class ClientConnection implements ClientHandle {
  readonly clientID: string;
  cookie: string | null;
  readonly wantsPokePerConnection: boolean;
  readonly #ws: WebSocket;
  readonly #params: ConnectParams;
  readonly #syncer: ViewSyncer;
  readonly #writes: GroupWrites;
  readonly #log: Logger;
  #queue: Promise<void> = Promise.resolve();
  #initialized = false;
  /** Set once the view-syncer accepted the initConnection; until then messages are dropped. */
  #admitted = false;
  #lastSent = Date.now();
  readonly #idleTimer: NodeJS.Timeout;
  readonly #connectTime = Date.now();
  #auth: ApiServerAuth = {};
  /** A token's payload for permission rules, or its refusal as a ProtocolError. */
  #verify: (token: string | undefined) => Promise<unknown> = async () => undefined;
  #revalidate: CredentialChecks['revalidate'];
  #revalidateTimer: NodeJS.Timeout | undefined;
  /** Inspector access lasts as long as this socket (see InspectorLogin). */
  readonly #inspectorLogin = new InspectorLogin();
  #connectedSent = false;
  #connectedAt = 0;
  /** Set once the connection is being closed: nothing more is sent or handled. */
  #closing = false;
  #connectedTimer: NodeJS.Timeout | undefined;

  constructor(
    ws: WebSocket,
    params: ConnectParams,
    protocolVersion: number,
    syncer: ViewSyncer,
    writes: GroupWrites,
    log: Logger,
  ) {
    this.#ws = ws;
    this.#params = params;
    this.clientID = params.clientID;
    this.cookie = params.baseCookie;
    this.wantsPokePerConnection = protocolVersion >= POKE_PER_CONNECTION_VERSION;
    this.#syncer = syncer;
    this.#writes = writes;
    this.#log = log.withContext({clientGroupID: params.clientGroupID, clientID: params.clientID});
    ws.on('message', (data, isBinary) =>
      this.#onMessage(isBinary ? data.toString() : String(data)),
    );
    ws.on('close', () => this.#closed());
    ws.on('error', (e) => this.#log.debug('socket error', e));
    this.#idleTimer = setInterval(() => {
      if (Date.now() - this.#lastSent > IDLE_PONG_MS) this.send(['pong', {}]);
    }, IDLE_PONG_MS / 2);
    this.#idleTimer.unref();
  }

  /**
   * Sends `connected` — at once, or with the initConnection the header carried, once the group
   * admitted it (see CONNECTED_AFTER_MS) — and handles that initConnection.
   */
  start(initFromHeader: unknown, auth: ApiServerAuth = {}, checks: CredentialChecks = {}): void {
    this.#auth = {...auth, userID: this.#params.userID};
    if (checks.verify) this.#verify = checks.verify;
    this.#revalidate = checks.revalidate;
    if (checks.revalidate && checks.revalidateIntervalMs) {
      this.#revalidateTimer = setInterval(
        () => this.#run(() => this.#checkWithApiServer()),
        checks.revalidateIntervalMs,
      );
      this.#revalidateTimer.unref();
    }
    if (initFromHeader === undefined) return this.#sendConnected();
    this.#connectedTimer = setTimeout(() => this.#sendConnected(), CONNECTED_AFTER_MS);
    this.#enqueue(() => parseUpstreamMessage(initFromHeader));
  }

  #sendConnected(): void {
    clearTimeout(this.#connectedTimer);
    if (this.#connectedSent) return;
    this.#connectedSent = true;
    this.#connectedAt = Date.now();
    this.send(['connected', {wsid: this.#params.wsid, timestamp: this.#connectedAt}]);
  }

  send(msg: DownstreamMessage): void {
    if (this.#closing) return;
    this.#write(msg);
  }

  #write(msg: DownstreamMessage): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    if (this.#ws.bufferedAmount > MAX_UNREAD_BYTES) {
      this.#log.warn(`dropping a client that left ${this.#ws.bufferedAmount} bytes unread`);
      this.#ws.terminate();
      return;
    }
    this.#lastSent = Date.now();
    this.#ws.send(JSON.stringify(msg));
  }

  close(error?: ProtocolError): void {
    clearTimeout(this.#connectedTimer);
    if (this.#closing) return;
    this.#closing = true;
    const closeNow = () => {
      if (error) this.#write(['error', error.body] as DownstreamMessage);
      this.#ws.close();
    };
    // Only a close that asks the client to come back must not be lost that way; the others (a
    // malformed message, a refused push) end in the client's error state regardless.
    const reconnects = !error || isBackoffErrorKind(error.kind);
    const wait =
      this.#connectedSent && reconnects
        ? this.#connectedAt + CLOSE_AFTER_CONNECTED_MS - Date.now()
        : 0;
    if (wait > 0) setTimeout(closeNow, wait);
    else closeNow();
  }

  #onMessage(text: string): void {
    let msg: UpstreamMessage;
    try {
      msg = parseUpstreamText(text);
    } catch (e) {
      return this.#fail(e);
    }
    if (this.#closing) return;
    if (msg[0] === 'ping') return this.send(['pong', {}]);
    this.#enqueue(() => msg);
  }

  #enqueue(parse: () => UpstreamMessage): void {
    this.#run(() => this.#handle(parse()));
  }

  /** Runs `task` after everything queued before it; its failure fails the connection. */
  #run(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((e) => this.#fail(e));
  }

  /** Throws the API server's refusal of this connection's credentials (see CredentialChecks). */
  async #checkWithApiServer(): Promise<void> {
    const refusal = await this.#revalidate?.(this.#auth);
    if (refusal) throw refusal;
  }

  async #handle(msg: UpstreamMessage): Promise<void> {
    if (!this.#admitted && msg[0] !== 'initConnection' && msg[0] !== 'ping') {
      // Dropped until the group has admitted this connection (§1.4): nothing, a push included,
      // is done for a connection that has not been checked against the group's principal.
      return this.#log.debug(`dropping ${msg[0]}: the connection has not been admitted`);
    }
    switch (msg[0]) {
      case 'initConnection':
        if (this.#initialized) throw ProtocolError.of('Internal', 'Outbound stream already set');
        this.#initialized = true;
        // As 1.x: nothing of the group before the API server accepted the credentials.
        await this.#checkWithApiServer();
        this.#auth = {
          ...this.#auth,
          pushHeaders: msg[1].userPushHeaders,
          queryHeaders: msg[1].userQueryHeaders,
        };
        await this.#syncer.addClient(this, msg[1], this.#connectTime, this.#auth, () =>
          this.#sendConnected(),
        );
        this.#admitted = true;
        this.#writes.useClientURL(msg[1].userPushURL);
        return;
      case 'changeDesiredQueries':
        return this.#syncer.changeDesiredQueries(
          this,
          msg[1].desiredQueriesPatch,
          msg[1].traceparent,
        );
      case 'deleteClients': {
        const ids = (msg[1].clientIDs ?? []).filter((id) => id !== this.clientID);
        await this.#syncer.deleteClients(this, ids);
        return this.#writes.deleteClients(ids);
      }
      case 'push':
        // Custom mutations go to the API server at once, not behind this client's queries.
        for (const e of await this.#writes.push(msg[1], this.#auth)) this.send(e.toMessage());
        return;
      case 'ackMutationResponses':
        return this.#writes.acknowledge(msg[1].clientID, msg[1].id);
      case 'ping':
        return this.send(['pong', {}]);
      case 'inspect':
        return this.send(['inspect', this.#syncer.inspect(msg[1], this.#inspectorLogin)]);
      case 'updateAuth':
        return this.#updateAuth(msg[1].auth);
      default:
        this.#log.debug(`ignoring ${msg[0]}`);
    }
  }

  /**
   * `updateAuth` (v48): a new token for this connection, verified like the one it connected with
   * and of the group's user (else the connection fails: AuthInvalidated or Unauthorized). Later
   * pushes and transforms use it, and the group's custom queries are transformed again with it.
   */
  async #updateAuth(token: string): Promise<void> {
    if (token === this.#auth.token) return;
    const auth: ApiServerAuth = {...this.#auth, token, authData: await this.#verify(token)};
    await this.#syncer.updateAuth(auth);
    this.#auth = auth;
  }

  #fail(e: unknown): void {
    let err: ProtocolError;
    if (e instanceof ProtocolError) err = e;
    else {
      // The failure may quote a row, a host or a credential: only an id reaches the client.
      const id = newErrorId();
      this.#log.error(`client failed (error id ${id})`, e);
      err = ProtocolError.of('Internal', internalErrorMessage('zcache failed to serve', id));
    }
    if (err.isTransient) return this.send(['error', err.body] as DownstreamMessage);
    this.close(err);
  }

  #closed(): void {
    clearInterval(this.#idleTimer);
    clearInterval(this.#revalidateTimer);
    clearTimeout(this.#connectedTimer);
    this.#syncer.removeClient(this);
  }
}
