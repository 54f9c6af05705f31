import {astLimitProblem, DEFAULT_AST_LIMITS, type AstLimits} from '../protocol/ast-limits.js';
import type {DownstreamMessage, ErroredQuery, SchemaVersions} from '../protocol/sync-down.js';
import {ProtocolError} from '../protocol/sync-errors.js';
import type {ClientSchema, InitConnectionBody, UpQueryOp} from '../protocol/sync-up-queries.js';
import {cachedStatement, openReplica, type ReplicaDb} from '../replica/replica-file.js';
import type {RowChangeWindow} from '../replica/row-change-window.js';
import type {Logger} from '../shared/log.js';
import type {ApiServerAuth} from '../custom/api-server-call.js';
import type {CustomQuery, QueryTransformer} from '../custom/query-transformer.js';
import {writeCatchup} from './catchup.js';
import {checkPrincipal, principalOf} from './group-principal.js';
import {CustomTransforms, type RunningCustomQuery} from './custom-transforms.js';
import {pickGroupToken} from './group-token.js';
import {answerInspect, type InspectorLogin, type InspectorOptions} from './inspector.js';
import type {InspectDownBody} from '../protocol/sync-down.js';
import type {InspectUpBody} from '../protocol/sync-up.js';
import {clientSchemaRefusal} from './client-schema-check.js';
import {answerGroupFailure, reconnectElsewhere} from './group-failure.js';
import type {CVRStore} from './cvr-store.js';
import type {CVRSnapshot, RowRecord} from './cvr-types.js';
import {
  compareVersions,
  oneAfter,
  parseCookie,
  versionString,
  type CVRVersion,
} from './cvr-version.js';
import {internalQueries} from './internal-queries.js';
import {PipelineDriver, type StepResult} from './pipeline-driver.js';
import type {ReplicaSources, Row} from '../zql/index.js';
import {AheadClients} from './ahead-clients.js';
import {LostVersions} from './lost-versions.js';
import {PokeBuilder, pendingPoke, type PendingPoke} from './poke-builder.js';
import {QuerySet, type DesiredPatch} from './query-set.js';
import {applyReadPermissions} from './read-permissions.js';
import {readPermissionRules} from '../replica/permissions-table.js';
import {RowSet, type RowChangeOut} from './row-set.js';
import {SliceScheduler, type StepSlices} from './slice-scheduler.js';
import {admitQueries, tooManyQueriesMessage} from './query-admission.js';

const DEFAULT_MAX_QUERIES = 1000;
const DEFAULT_MAX_QUERY_RECORDS = 5000;
import {TTLClock} from './ttl.js';

/**
 * The view-syncer of one client group on one worker: it owns the group's CVR (loaded once, flushed
 * after every change), its IVM pipelines (one replica connection, one snapshot per step) and its
 * connected clients. All work runs one step at a time: apply config changes, expire queries,
 * advance and hydrate pipelines, compute the new CVR version, send each client its poke from its
 * cookie to the new version (behind clients get a catch-up poke) while the CVR is flushed, then
 * end the pokes.
 *
 * Invariant: a poke's baseCookie is the cookie the client holds (we track it per client), and the
 * CVR is flushed before any client is told a version (a poke takes effect at its pokeEnd).
 */
export interface ClientHandle {
  readonly clientID: string;
  /** The cookie the client holds: its baseCookie, then each poke's cookie. */
  cookie: string | null;
  send(msg: DownstreamMessage): void;
  /** Sends an error (if any) and closes the socket. */
  close(error?: ProtocolError): void;
  /**
   * The client counts its queries complete only after a poke on each connection (1.x clients,
   * sync protocol v45+): it gets one when it joins, an empty one if it is up to date.
   */
  readonly wantsPokePerConnection?: boolean | undefined;
}

export interface ViewSyncerOptions {
  clientGroupID: string;
  replicaFile: string;
  store: CVRStore;
  appID: string;
  shardSchema: string;
  log: Logger;
  yieldThresholdMs: number;
  /** Payload of the group's auth token, for permission rules (§2.13). */
  authData?: unknown;
  /** Transforms custom queries through ZERO_QUERY_URL; absent when none is configured. */
  transformer?: QueryTransformer | undefined;
  /** ZERO_AUTH_RETRANSFORM_INTERVAL_SECONDS, in ms; absent: never periodically. */
  retransformIntervalMs?: number | undefined;
  /** Cookies go to the API server (ZERO_*_FORWARD_COOKIES), so they identify the group's user. */
  cookiesForwarded?: boolean | undefined;
  inspector?: InspectorOptions | undefined;
  /** Queries the group may run at once (ZCACHE_MAX_QUERIES_PER_CLIENT_GROUP). */
  maxQueries?: number | undefined;
  /** Query records (tombstones included) the group keeps (ZCACHE_MAX_QUERY_RECORDS_PER_CLIENT_GROUP). */
  maxQueryRecords?: number | undefined;
  /** Bounds on one query's shape (ZCACHE_MAX_AST_DEPTH, _NODES, ZCACHE_MAX_IN_LIST_LENGTH). */
  astLimits?: AstLimits | undefined;
  /** The worker's time slicing, shared by its groups (one of their own when absent). */
  slices?: SliceScheduler | undefined;
  /** The worker's shared view of recent replica changes; lets unaffected groups skip a step. */
  recentChanges?: RowChangeWindow | undefined;
  now?: () => number;
}

type ConfigChange = (version: CVRVersion, ttlClock: number) => DesiredPatch[];

/** What one step gathers as it goes: `got` patches, and the queries refused, to report. */
interface StepTally {
  /** The step's version if nothing moves it higher: above the old one and every ahead cookie. */
  tentative: CVRVersion;
  got: {op: 'put' | 'del'; hash: string}[];
  failed: ErroredQuery[];
}

/** A step's result, decided inside its read of the replica. */
interface StepOutcome {
  version: CVRVersion;
  changed: boolean;
  rowsDirty: RowRecord[];
  pokes: PendingPoke[];
}

export class ViewSyncer {
  readonly #o: ViewSyncerOptions;
  readonly #clients = new Map<string, ClientHandle>();
  readonly #ahead = new AheadClients();
  /** The loaded CVR's row records may be behind its version: every returning client is reset. */
  #rowsIncomplete = false;
  #cvr: CVRSnapshot | undefined;
  #queries!: QuerySet;
  #rows!: RowSet;
  #driver!: PipelineDriver;
  #db!: ReplicaDb;
  #ttl!: TTLClock;
  #lost!: LostVersions;
  #lastConnect = 0;
  #work: Promise<void> = Promise.resolve();
  #stopped = false;
  #expiryTimer: NodeJS.Timeout | undefined;
  #retransformTimer: NodeJS.Timeout | undefined;

  readonly #slices: SliceScheduler;
  readonly #custom: CustomTransforms;

  constructor(opts: ViewSyncerOptions) {
    this.#o = opts;
    this.#slices = opts.slices ?? new SliceScheduler({yieldThresholdMs: opts.yieldThresholdMs});
    this.#custom = new CustomTransforms(
      opts.transformer,
      opts.log.withContext({clientGroupID: opts.clientGroupID}),
    );
    if (opts.transformer && opts.retransformIntervalMs) {
      this.#retransformTimer = setInterval(
        () => this.#periodicRetransform(),
        opts.retransformIntervalMs,
      );
      this.#retransformTimer.unref();
    }
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  /** Stopped for good (see stop()): its work is refused with Rehome. */
  get stopped(): boolean {
    return this.#stopped;
  }

  connectedClients(): IterableIterator<ClientHandle> {
    return this.#clients.values();
  }

  /** For /statz: connected clients, queries in the pipelines, and what hydrating them took. */
  stats(): {clients: number; queries: number; hydrationMs: number} {
    const loaded = this.#cvr !== undefined;
    return {
      clients: this.#clients.size,
      queries: loaded ? this.#driver.queries().length : 0,
      hydrationMs: loaded ? Math.round(this.#driver.hydrationMs) : 0,
    };
  }

  /**
   * Registers a client (initConnection) and syncs it. `onAdmitted` runs once the group took the
   * connection (CVR loaded, principal, cookie and schema checked), before anything is sent to it.
   */
  addClient(
    client: ClientHandle,
    body: InitConnectionBody,
    connectTime: number,
    auth: ApiServerAuth = {},
    onAdmitted: () => void = () => {},
  ): Promise<void> {
    this.#lastConnect = Math.max(this.#lastConnect, connectTime);
    let refusal: ProtocolError | undefined;
    const added = this.#enqueue(async () => {
      await this.#ensureLoaded();
      refusal = this.#admit(auth, () =>
        this.#clientSchemaRefusal(body.clientSchema, client.cookie),
      );
      if (refusal) return;
      this.#checkCookie(client.clientID, client.cookie);
      this.#clients.get(client.clientID)?.close();
      this.#clients.set(client.clientID, client);
      if (client.wantsPokePerConnection) this.#owedPoke.add(client);
      onAdmitted();
      await this.#step((version, ttl) => {
        const patches = this.#queries.applyPatch(
          client.clientID,
          body.desiredQueriesPatch,
          version,
          ttl,
        );
        for (const id of this.#knownClients()) {
          const gone =
            (body.activeClients && !body.activeClients.includes(id)) ||
            body.deleted?.clientIDs?.includes(id);
          if (gone && id !== client.clientID)
            patches.push(...this.#queries.removeClient(id, version, ttl));
        }
        return patches;
      }, true);
    });
    // A refusal is the connection's failure, not the group's: it is thrown outside the queue's
    // failure handling, which would drop the group's loaded state.
    return added.then(() => {
      if (refusal) throw refusal;
    });
  }

  /**
   * Admits a connection of the group's principal (pinning a new group to it) and picks the
   * group's token; any other connection gets the Unauthorized error to close it with, and nothing
   * of the group.
   */
  #admit(
    auth: ApiServerAuth,
    alsoRefuse: () => ProtocolError | undefined = () => undefined,
  ): ProtocolError | undefined {
    const instance = this.#cvr!.instance;
    const principal = principalOf(auth, this.#o.cookiesForwarded ?? false);
    let token: ApiServerAuth;
    try {
      checkPrincipal(instance.principal, principal);
      token = pickGroupToken(this.#auth, auth);
    } catch (e) {
      if (e instanceof ProtocolError) return e;
      throw e;
    }
    // Only the principal's connections get this far: what else refuses them may say more.
    const refusal = alsoRefuse();
    if (refusal) return refusal;
    this.#auth = token;
    instance.principal = principal;
    return undefined;
  }

  /**
   * A connected client's new credentials (`updateAuth`): checked against the group's user as a
   * new connection's are; throws the Unauthorized error to close that connection with.
   */
  updateAuth(auth: ApiServerAuth): Promise<void> {
    let refusal: ProtocolError | undefined;
    return this.#enqueue(async () => {
      const before = this.#auth;
      refusal = this.#admit(auth);
      if (refusal || this.#auth === before) return;
      // As 1.x: the group's custom queries are transformed again, with the new credentials.
      this.#custom.transformAgain('now');
      await this.#step();
    }).then(() => {
      if (refusal) throw refusal;
    });
  }

  /** `traceparent` (v50) travels with the transforms this change causes. */
  changeDesiredQueries(
    client: ClientHandle,
    ops: readonly UpQueryOp[],
    traceparent?: string,
  ): Promise<void> {
    return this.#enqueue(async () => {
      this.#custom.traceparent = traceparent;
      try {
        await this.#step((v, ttl) => this.#queries.applyPatch(client.clientID, ops, v, ttl));
      } finally {
        this.#custom.traceparent = undefined;
      }
    });
  }

  deleteClients(client: ClientHandle, clientIDs: readonly string[]): Promise<void> {
    return this.#enqueue(async () => {
      await this.#step((v, ttl) =>
        clientIDs
          .filter((id) => id !== client.clientID)
          .flatMap((id) => this.#queries.removeClient(id, v, ttl)),
      );
      for (const c of this.#clients.values())
        c.send(['deleteClients', {clientIDs: [...clientIDs]}]);
    });
  }

  /** Answers an inspector request (§9.2) from the group's current state; `login` is the socket's. */
  inspect(req: InspectUpBody, login: InspectorLogin): InspectDownBody {
    const opts = this.#o.inspector ?? {
      adminPassword: undefined,
      development: false,
      serverVersion: 'zcache',
    };
    const state = this.#cvr ? {queries: this.#queries, rows: this.#rows} : undefined;
    return answerInspect(req, login, opts, state);
  }

  /**
   * A new replica version: schedule one step. Signals coalesce — while a step is waiting to run,
   * further signals add nothing (that step advances to whatever the head is when it runs).
   */
  versionReady(): void {
    if (!this.#cvr || this.#advanceQueued) return;
    this.#advanceQueued = true;
    void this.#enqueue(() => {
      this.#advanceQueued = false;
      return this.#unaffectedByNewVersion() ? Promise.resolve() : this.#step();
    }).catch(() => {});
  }

  /** True when the worker's recent changes show nothing this group's pipelines can see. */
  #unaffectedByNewVersion(): boolean {
    const window = this.#o.recentChanges;
    const version = this.#driver.version;
    if (!window || version === null) return false;
    const changes = window.since(version);
    // A change of deployed permissions rebuilds the group's pipelines (see #step).
    const permissions = `${this.#o.appID}.permissions`;
    if (!changes || changes.entries.some((e) => e.table === permissions)) return false;
    return this.#driver.skipUnaffected(changes);
  }

  #advanceQueued = false;

  removeClient(client: ClientHandle): void {
    if (this.#clients.get(client.clientID) === client) this.#clients.delete(client.clientID);
    this.#owedPoke.delete(client);
  }

  /**
   * Stops the group: no further work starts, a step in progress is abandoned at its next slice,
   * and the pipelines and replica connection are released once it has.
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#expiryTimer);
    clearInterval(this.#retransformTimer);
    if (!this.#cvr) return;
    const driver = this.#driver;
    const db = this.#db;
    void this.#work
      .then(() => this.#closeCeiling())
      .then(() => {
        driver.destroy();
        db.close();
      });
  }

  /**
   * On a clean stop, one durable flush lowers the ceiling to the CVR's version: every version
   * handed out is then durable (this commit follows all the asynchronous ones), so the next load
   * has no range of possibly lost versions to reset. Best effort: without it, the next load only
   * resets a few more cookies than it must.
   */
  async #closeCeiling(): Promise<void> {
    const cvr = this.#cvr;
    const ceiling = cvr?.instance.handedOutCeiling;
    if (!cvr || !this.#stored || !ceiling) return;
    if (compareVersions(cvr.instance.version, ceiling) >= 0) return;
    const instance = {...cvr.instance, handedOutCeiling: cvr.instance.version};
    await this.#o.store
      .flush(cvr.instance.version, {instance}, this.#lastConnect, {durable: true})
      .then(() => (cvr.instance = instance))
      .catch((e) => this.#o.log.debug(`group ${this.#o.clientGroupID}: final flush failed`, e));
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.#work.then(async () => {
      if (this.#stopped) throw this.#abandoned();
      try {
        await work();
      } catch (e) {
        if (this.#stopped) throw this.#abandoned(e);
        // The requesting client gets what the group's clients got: never `Internal`, which
        // would stop it (the Zero client does not reconnect after it).
        throw this.#fail(e);
      }
    });
    this.#work = run.catch(() => {});
    return run;
  }

  /** Work cut short by stop(): reported at info (nothing failed); see reconnectElsewhere. */
  #abandoned(cut?: unknown): ProtocolError {
    if (cut !== undefined) {
      const why = cut instanceof Error ? cut.message : String(cut);
      this.#o.log.info(`group ${this.#o.clientGroupID}: work cut short by the stop (${why})`);
    }
    return reconnectElsewhere();
  }

  /** A load or step failed: see answerGroupFailure. Returns the requesting client's error. */
  #fail(e: unknown): ProtocolError {
    const {error, then} = answerGroupFailure(e, this.#o.clientGroupID, this.#o.log);
    if (then === 'stop') this.stop();
    else if (then === 'reload') this.#dropLoadedState();
    for (const c of this.#clients.values()) c.close(error);
    this.#clients.clear();
    return error;
  }

  #dropLoadedState(): void {
    if (!this.#cvr || this.#stopped) return;
    this.#driver.destroy();
    this.#db.close();
    this.#cvr = undefined;
  }

  async #ensureLoaded(): Promise<void> {
    if (this.#cvr) return;
    const cvr = await this.#o.store.load(this.#lastConnect);
    const rows = await this.#o.store.allRows();
    this.#db = openReplica(this.#o.replicaFile, {readonly: true});
    this.#driver = new PipelineDriver(this.#db);
    this.#queries = new QuerySet(cvr.queries, cvr.desires);
    this.#rows = new RowSet(
      new Map(rows.map((r: RowRecord) => [RowSet.idOf(r.table, r.rowKey), r])),
    );
    this.#ttl = new TTLClock(cvr.instance.ttlClock, this.#o.now);
    for (const [hash, ast] of internalQueries(this.#o.shardSchema, this.#o.clientGroupID)) {
      if (!cvr.queries.has(hash)) {
        cvr.queries.set(hash, {
          queryHash: hash,
          kind: 'internal',
          ast,
          name: null,
          args: null,
          patchVersion: null,
          transformationHash: null,
          deleted: false,
        });
        this.#queries.dirtyQueries.add(hash);
      }
    }
    this.#stored = cvr.instance.owner !== null;
    this.#cvr = cvr;
    this.#rowsIncomplete = !cvr.rowsComplete;
    this.#lost = new LostVersions(cvr.instance);
    if (this.#rowsIncomplete) {
      this.#o.log.warn(
        `group ${this.#o.clientGroupID}: the CVR's row records stop short of its version ` +
          `(a write-back did not finish); resetting the view of every client that comes back`,
      );
      for (const c of this.#clients.values())
        if (c.cookie) this.#ahead.add(c.clientID, parseCookie(c.cookie));
    }
  }

  #knownClients(): string[] {
    return [...new Set([...this.#cvr!.clients, ...this.#queries.desires.keys()])];
  }

  #checkCookie(clientID: string, cookie: string | null): void {
    if (cookie === null) return;
    const cvrVersion = this.#cvr!.instance.version;
    const mine = parseCookie(cookie);
    const purgedThrough = this.#cvr!.instance.queriesPurgedThrough;
    if (this.#rowsIncomplete) {
      this.#ahead.add(clientID, mine);
    } else if (this.#lost.mayBeLost(mine)) {
      this.#o.log.warn(
        `group ${this.#o.clientGroupID}: client ${clientID} is at ${cookie}, a version the CVR ` +
          `may have lost (its database lost updates); resetting the client's view`,
      );
      this.#ahead.add(clientID, mine);
    } else if (purgedThrough && compareVersions(mine, purgedThrough) < 0) {
      // Query tombstones this client has not seen were forgotten: catch-up cannot be trusted.
      this.#ahead.add(clientID, mine);
    } else if (compareVersions(mine, cvrVersion) > 0) {
      this.#o.log.warn(
        `group ${this.#o.clientGroupID}: client ${clientID} is at ${cookie}, ahead of the CVR ` +
          `(${versionString(cvrVersion)}): the CVR lost its latest updates; resetting the client's view`,
      );
      this.#ahead.add(clientID, mine);
    }
  }

  /** See clientSchemaRefusal; a new group keeps the first schema it accepted. */
  #clientSchemaRefusal(
    schema: ClientSchema | undefined,
    cookie: string | null,
  ): ProtocolError | undefined {
    const instance = this.#cvr!.instance;
    const refusal = clientSchemaRefusal(this.#db, instance.clientSchema, schema, cookie);
    if (!refusal && schema && !instance.clientSchema) instance.clientSchema = schema;
    return refusal;
  }

  async #step(config?: ConfigChange, clientAdded = false): Promise<void> {
    // Work queued before a failure dropped the loaded CVR (e.g. ZERO_CVR_DB went away) reloads it.
    await this.#ensureLoaded();
    const slices = this.#slices.beginStep();
    try {
      await this.#stepIn(slices, config, clientAdded);
    } finally {
      slices.end();
    }
  }

  /**
   * One step: bring the pipelines in line with the live queries, advance them to the replica's
   * head (hydrating new ones), poke every client from its cookie, and flush the CVR — each poke's
   * end waits for that flush.
   */
  async #stepIn(slices: StepSlices, config?: ConfigChange, clientAdded = false): Promise<void> {
    const old = this.#cvr!.instance.version;
    const ttl = this.#ttl.value();
    const tally: StepTally = {
      tentative: this.#lost.raise(this.#ahead.raise(oneAfter(old))),
      got: [],
      failed: [],
    };
    const desired = config ? config(tally.tentative, ttl) : [];
    await this.#updatePipelines(tally, ttl);
    const outcome = await slices.run(
      this.#driver.step((result, sources) =>
        this.#afterAdvance(tally, old, desired, result, sources),
      ),
      () => this.#stopped,
    );
    // Pokes go out while the CVR is flushed; only their pokeEnd (when the client applies them)
    // waits for the flush, so no client is told a version the CVR might not have.
    for (const poke of outcome.pokes) poke.sendParts();
    if (outcome.changed || clientAdded) await this.#flushStep(old, outcome);
    for (const poke of outcome.pokes) poke.finish();
    this.#ahead.clear();
    if (tally.failed.length)
      for (const c of this.#clients.values()) c.send(['transformError', tally.failed]);
    this.#scheduleExpiry();
  }

  /**
   * Drops expired queries' pipelines, rebuilds those whose permissions or transform changed, and
   * adds pipelines for the queries admitted to run (refusing those over the limits).
   */
  async #updatePipelines(tally: StepTally, ttl: number): Promise<void> {
    for (const q of this.#queries.expiredQueries(ttl)) {
      if (this.#queries.tombstone(q.queryHash, tally.tentative))
        tally.got.push({op: 'del', hash: q.queryHash});
      this.#driver.removeQuery(q.queryHash);
      this.#rows.release(q.queryHash);
    }
    const permissions = readPermissionRules(this.#db, this.#o.appID);
    const permissionsKey = JSON.stringify([permissions, this.#auth.authData ?? null]);
    if (permissionsKey !== this.#permissionsKey) {
      // Deployed permissions (or the token they read) changed: rebuild filtered pipelines (§5.4).
      for (const q of this.#queries.queries.values())
        if (q.kind === 'client') this.#driver.removeQuery(q.queryHash);
      this.#permissionsKey = permissionsKey;
    }
    // Dropped from the driver, they start again below, from the new transform.
    for (const hash of await this.#custom.toRebuild(this.#runningCustomQueries(), this.#auth))
      this.#driver.removeQuery(hash);
    const max = this.#o.maxQueries ?? DEFAULT_MAX_QUERIES;
    const admission = admitQueries(
      this.#queries.liveQueries(ttl),
      new Set(this.#driver.queries()),
      max,
    );
    for (const q of admission.refused) this.#refuse(tally, q.queryHash, tooManyQueriesMessage(max));
    const custom: CustomQuery[] = [];
    for (const q of admission.start) {
      if (q.kind === 'custom') custom.push({id: q.queryHash, name: q.name!, args: q.args ?? []});
      else if (q.kind === 'client' && q.ast) {
        const problem = astLimitProblem(q.ast, this.#astLimits);
        if (problem) this.#refuse(tally, q.queryHash, `Query refused: ${problem}.`);
        else {
          const authData = this.#auth.authData ?? this.#o.authData;
          // Permission conditions go first so that SQLite filters by them before anything else.
          const ast = applyReadPermissions(q.ast, permissions, authData);
          this.#driver.addQuery(q.queryHash, ast, q.ast);
        }
      } else if (q.ast) this.#driver.addQuery(q.queryHash, q.ast);
    }
    if (custom.length) await this.#addCustomQueries(custom, tally);
  }

  /** A query that will not run: its `got` is deleted and it is reported to the clients. */
  #refuse(tally: StepTally, hash: string, message: string): void {
    if (this.#queries.tombstone(hash, tally.tentative)) tally.got.push({op: 'del', hash});
    const name = this.#queries.queries.get(hash)?.name ?? '';
    tally.failed.push({error: 'app', id: hash, name, message});
  }

  /**
   * Inside the step's read of the replica: takes the pipelines' patches into the row set, picks
   * the step's version (above the old one, every ahead cookie and every possibly lost one) and
   * builds each client's poke.
   */
  #afterAdvance(
    tally: StepTally,
    old: CVRVersion,
    desired: DesiredPatch[],
    result: StepResult,
    sources: ReplicaSources,
  ): StepOutcome {
    // A (re)hydrated query's patches are its whole result: drop the references the CVR holds
    // for it (e.g. from before a restart) so rows it no longer has are deleted.
    for (const {queryHash, hydrated} of result.queries) if (hydrated) this.#rows.release(queryHash);
    if (result.reset)
      this.#o.log.info(
        `group ${this.#o.clientGroupID}: pipelines rehydrated (${result.resetReason})`,
      );
    for (const f of result.failed) {
      this.#o.log.warn(
        `group ${this.#o.clientGroupID}: query ${f.queryHash} failed: ${f.message}`,
        f.cause,
      );
      this.#refuse(tally, f.queryHash, f.message);
    }
    const fresh = new Set<string>();
    for (const {queryHash, patches} of result.queries) {
      this.#rows.apply(queryHash, patches, tally.tentative);
      const q = this.#queries.queries.get(queryHash);
      if (q && q.patchVersion === null) fresh.add(queryHash);
    }
    const next: CVRVersion = this.#lost.raise(
      this.#ahead.raise(
        result.version > old.stateVersion ? {stateVersion: result.version} : tally.tentative,
      ),
    );
    const rowOut = this.#rows.finish(next);
    for (const hash of fresh) {
      this.#queries.markGot(hash, next, hash);
      if (this.#queries.queries.get(hash)!.kind !== 'internal') tally.got.push({op: 'put', hash});
    }
    const changed =
      this.#ahead.size > 0 ||
      desired.length > 0 ||
      tally.got.length > 0 ||
      rowOut.changes.length > 0 ||
      this.#queries.dirtyQueries.size > 0;
    const version = changed ? next : old;
    const readRow = (table: string, key: Record<string, unknown>) => sources.getRow(table, key);
    const pokes = this.#buildPokes(old, version, desired, tally.got, rowOut.changes, readRow);
    return {version, changed, rowsDirty: rowOut.dirty, pokes};
  }

  /** Flushes what the step changed; its pokes are cancelled if the flush fails. */
  async #flushStep(old: CVRVersion, outcome: StepOutcome): Promise<void> {
    const cvr = this.#cvr!;
    this.#queries.stampDirty(outcome.version);
    // A version above the recorded ceiling is handed out only once a durable flush raised it.
    const raisedCeiling = this.#lost.ceilingFor(outcome.version) !== null;
    cvr.instance = {
      ...cvr.instance,
      version: outcome.version,
      lastActive: Date.now(),
      ttlClock: this.#ttl.value(),
      handedOutCeiling: this.#lost.ceiling,
      lostRanges: this.#lost.ranges,
    };
    for (const id of this.#clients.keys()) cvr.clients.add(id);
    const purged = this.#purgeQueryTombstones();
    const dirty = this.#queries.takeDirty();
    await this.#flushOrCancel(outcome.pokes, () =>
      this.#o.store.flush(
        this.#stored ? old : null,
        {
          instance: cvr.instance,
          clients: {put: [...this.#clients.keys()]},
          queries: dirty.queries,
          desires: dirty.desires,
          purgedQueries: purged,
          rows: outcome.rowsDirty,
        },
        this.#lastConnect,
        {durable: raisedCeiling},
      ),
    );
    this.#stored = true;
  }

  /** Forgets the oldest query tombstones beyond the group's bound (see QuerySet.purgeTombstones). */
  #purgeQueryTombstones(): string[] {
    const max = this.#o.maxQueryRecords ?? DEFAULT_MAX_QUERY_RECORDS;
    const {hashes, through} = this.#queries.purgeTombstones(max);
    const cvr = this.#cvr!;
    if (through && compareVersions(through, cvr.instance.queriesPurgedThrough) > 0) {
      cvr.instance = {...cvr.instance, queriesPurgedThrough: through};
      this.#o.log.info(
        `group ${this.#o.clientGroupID}: forgot ${hashes.length} query tombstones through ` +
          `${versionString(through)} (more than ${max} query records)`,
      );
    }
    return hashes;
  }

  async #flushOrCancel(pokes: readonly PendingPoke[], flush: () => Promise<void>): Promise<void> {
    try {
      await flush();
    } catch (e) {
      for (const poke of pokes) poke.cancel();
      throw e;
    }
  }

  /** The group's token and cookies, forwarded to the API server (the latest connection's). */
  #auth: ApiServerAuth = {};
  #runningCustomQueries(): RunningCustomQuery[] {
    return [...this.#queries.queries.values()]
      .filter((q) => q.kind === 'custom' && this.#driver.astOf(q.queryHash) !== undefined)
      .map((q) => ({
        id: q.queryHash,
        name: q.name!,
        args: q.args ?? [],
        ast: this.#driver.astOf(q.queryHash),
      }));
  }

  /** Every ZERO_AUTH_RETRANSFORM_INTERVAL_SECONDS while the group has clients. */
  #periodicRetransform(): void {
    if (this.#stopped || !this.#cvr || this.#clients.size === 0) return;
    // A step only when there is something to transform: most groups run no custom queries.
    if (this.#runningCustomQueries().length === 0) return;
    void this.#enqueue(async () => {
      this.#custom.transformAgain('quietly');
      await this.#step();
    }).catch(() => {});
  }

  /** The permissions the client pipelines were built with. */
  #permissionsKey: string | undefined;
  /** Whether the CVR exists in the store (a new group's first flush creates it). */
  #stored = false;
  /** Clients that joined and have not had their poke of this connection yet (see ClientHandle). */
  readonly #owedPoke = new Set<ClientHandle>();

  #buildPokes(
    old: CVRVersion,
    version: CVRVersion,
    desired: DesiredPatch[],
    got: {op: 'put' | 'del'; hash: string}[],
    rows: RowChangeOut[],
    readRow: (table: string, key: Record<string, unknown>) => Row | null,
  ): PendingPoke[] {
    const cookie = versionString(version);
    const schemaVersions = this.#schemaVersions();
    // A new client of a group with nothing before this step: this step's patches are its whole
    // view, so it need not be caught up from the row records (which would re-read every row).
    const fresh = versionString(old) === '00';
    const pokes: PendingPoke[] = [];
    for (const client of this.#clients.values()) {
      const owed = this.#owedPoke.delete(client);
      if (client.cookie === cookie && !owed) continue;
      const buffered: DownstreamMessage[] = [];
      const poke = new PokeBuilder(
        {send: (m) => buffered.push(m)},
        {
          baseCookie: client.cookie,
          cookie,
          schemaVersions,
          shardSchema: this.#o.shardSchema,
          clientGroupID: this.#o.clientGroupID,
          evenIfUnchanged: owed,
        },
      );
      if (this.#ahead.has(client.clientID)) {
        poke.clearAll();
        writeCatchup(poke, null, this.#queries, this.#rows, readRow);
      } else if (client.cookie === versionString(old) || (client.cookie === null && fresh)) {
        for (const d of desired) poke.desired(d.clientID, {op: d.op, hash: d.queryHash});
        for (const g of got) poke.got({op: g.op, hash: g.hash});
        for (const r of rows) poke.row(r);
      } else {
        // Stamp this step's records first so that catch-up sees them as after the cookie.
        this.#queries.stampDirty(version);
        writeCatchup(poke, client.cookie, this.#queries, this.#rows, readRow);
      }
      poke.end();
      pokes.push(pendingPoke(client, buffered, cookie, this.#o.log));
    }
    return pokes;
  }

  /** Transforms custom queries and adds their pipelines; failed ones are dropped (got del). */
  async #addCustomQueries(custom: CustomQuery[], tally: StepTally): Promise<void> {
    const {asts, errors} = await this.#custom.transform(custom, this.#auth);
    for (const [hash, ast] of asts) {
      // The API server built the AST from the client's arguments: it is checked like a client's.
      const problem = astLimitProblem(ast, this.#astLimits);
      if (problem) this.#refuse(tally, hash, `Query refused: ${problem}.`);
      else this.#driver.addQuery(hash, ast, ast);
    }
    if (errors.length === 0) return;
    for (const c of this.#clients.values()) c.send(['transformError', errors]);
    for (const e of errors)
      if (this.#queries.tombstone(e.id, tally.tentative)) tally.got.push({op: 'del', hash: e.id});
  }

  get #astLimits(): AstLimits {
    return this.#o.astLimits ?? DEFAULT_AST_LIMITS;
  }

  #schemaVersions(): SchemaVersions | undefined {
    try {
      const row = cachedStatement(
        this.#db,
        `SELECT "minSupportedVersion" AS min, "maxSupportedVersion" AS max FROM "${this.#o.appID}.schemaVersions"`,
      ).get() as {min: number; max: number} | undefined;
      return row ? {minSupportedVersion: row.min, maxSupportedVersion: row.max} : undefined;
    } catch {
      return undefined;
    }
  }

  #scheduleExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const next = this.#queries.nextExpiry();
    if (next === null || this.#stopped) return;
    const delay = Math.max(50, Math.min(next - this.#ttl.value() + 50, 600_000));
    this.#expiryTimer = setTimeout(
      () => void this.#enqueue(() => this.#step()).catch(() => {}),
      delay,
    );
    this.#expiryTimer.unref();
  }
}
