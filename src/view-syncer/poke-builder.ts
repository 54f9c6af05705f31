import type {
  DownstreamMessage,
  MutOp,
  PokeEndMessage,
  PokePartBody,
  QueryOp,
  RowOp,
  SchemaVersions,
} from '../protocol/sync-down.js';
import type {Logger} from '../shared/log.js';
import type {RowChangeOut} from './row-set.js';

/**
 * Builds one poke for one client (fact sheet §2.6): `pokeStart` is sent with the first patch (or at
 * the end if the version moved with no patches), parts are flushed every 100 patches, `pokeEnd`
 * carries the new cookie. Rows of the shard's `clients` table become `lastMutationIDChanges`, rows
 * of its `mutations` table `mutationsPatch`; all other rows go in `rowsPatch`, without `_0_version`.
 *
 * Contract: `baseCookie` is the client's current cookie (asserted by the caller), and the poke is
 * sent only if `cookie` differs from it — or, with `evenIfUnchanged`, as an empty poke at the same
 * cookie.
 */
const PATCHES_PER_PART = 100;

export interface PokeTarget {
  send(msg: DownstreamMessage): void;
}

export interface PokeOptions {
  baseCookie: string | null;
  cookie: string;
  schemaVersions?: SchemaVersions | undefined;
  /** `{app}_{shard}` schema name, to recognise the mutation bookkeeping tables. */
  shardSchema: string;
  clientGroupID: string;
  /**
   * Send the poke even when the cookie did not move: a 1.x client counts its queries complete
   * only after it applied a poke on its current connection.
   */
  evenIfUnchanged?: boolean | undefined;
}

export class PokeBuilder {
  readonly #target: PokeTarget;
  readonly #o: PokeOptions;
  #started = false;
  #part: Mutable<PokePartBody> | null = null;
  #count = 0;

  constructor(target: PokeTarget, opts: PokeOptions) {
    this.#target = target;
    this.#o = opts;
  }

  get pokeID(): string {
    return this.#o.cookie;
  }

  desired(clientID: string, op: QueryOp): void {
    const part = this.#nextPart();
    const patches = (part.desiredQueriesPatches ??= {}) as Record<string, QueryOp[]>;
    (patches[clientID] ??= []).push(op);
  }

  got(op: QueryOp): void {
    ((this.#nextPart().gotQueriesPatch ??= []) as QueryOp[]).push(op);
  }

  row(change: RowChangeOut): void {
    const part = this.#nextPart();
    const table = change.table;
    if (table === `${this.#o.shardSchema}.clients`) {
      if (!change.row || change.row.clientGroupID !== this.#o.clientGroupID) return;
      const lmids = (part.lastMutationIDChanges ??= {}) as Record<string, number>;
      lmids[String(change.row.clientID)] = Number(change.row.lastMutationID);
    } else if (table === `${this.#o.shardSchema}.mutations`) {
      const src = change.row ?? change.key;
      const id = {clientID: String(src.clientID), id: Number(src.mutationID)};
      const op: MutOp = change.row
        ? {op: 'put', mutation: {id, result: change.row.result as never}}
        : {op: 'del', id};
      ((part.mutationsPatch ??= []) as MutOp[]).push(op);
    } else {
      const op: RowOp = change.row
        ? {op: 'put', tableName: table, value: withoutVersion(change.row)}
        : {op: 'del', tableName: table, id: change.key as never};
      ((part.rowsPatch ??= []) as RowOp[]).push(op);
    }
  }

  /** Clears the client's whole view (rows, queries, results) before what follows. */
  clearAll(): void {
    ((this.#nextPart().rowsPatch ??= []) as RowOp[]).push({op: 'clear'});
  }

  /** Sends what remains and `pokeEnd`; sends nothing if the cookie did not move (see PokeOptions). */
  end(): void {
    if (this.#o.cookie === this.#o.baseCookie && !this.#o.evenIfUnchanged) return;
    this.#start();
    this.#flush();
    this.#target.send(['pokeEnd', {pokeID: this.pokeID, cookie: this.#o.cookie}]);
  }

  /** Ends a started poke with `cancel` (the client discards it). */
  cancel(): void {
    if (this.#started)
      this.#target.send(['pokeEnd', {pokeID: this.pokeID, cookie: '', cancel: true}]);
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#target.send([
      'pokeStart',
      {
        pokeID: this.pokeID,
        baseCookie: this.#o.baseCookie,
        ...(this.#o.schemaVersions ? {schemaVersions: this.#o.schemaVersions} : {}),
        timestamp: Date.now(),
      },
    ]);
  }

  #nextPart(): Mutable<PokePartBody> {
    if (this.#count >= PATCHES_PER_PART) this.#flush();
    this.#start();
    this.#count++;
    return (this.#part ??= {pokeID: this.pokeID});
  }

  #flush(): void {
    if (this.#part && this.#count > 0) this.#target.send(['pokePart', this.#part]);
    this.#part = null;
    this.#count = 0;
  }
}

type Mutable<T> = {-readonly [K in keyof T]: T[K]};

function withoutVersion(row: Record<string, unknown>): never {
  const {_0_version: _v, ...rest} = row;
  return rest as never;
}

/** The client side a poke is sent to. */
export interface PokedClient {
  readonly clientID: string;
  cookie: string | null;
  send(m: DownstreamMessage): void;
}

/**
 * A poke built for one client, sent in two steps: everything but its `pokeEnd` first, then the
 * `pokeEnd` (after which the client applies it and its cookie moves) — or a cancelling `pokeEnd`
 * if the CVR flush failed.
 */
export interface PendingPoke {
  sendParts(): void;
  finish(): void;
  cancel(): void;
}

export function pendingPoke(
  client: PokedClient,
  messages: DownstreamMessage[],
  cookie: string,
  log: Logger,
): PendingPoke {
  const last = messages[messages.length - 1];
  const end = last?.[0] === 'pokeEnd' ? (messages.pop() as PokeEndMessage) : undefined;
  let sent = false;
  const rowCount = messages.reduce(
    (n, m) => n + (m[0] === 'pokePart' ? (m[1].rowsPatch?.length ?? 0) : 0),
    0,
  );
  return {
    sendParts() {
      for (const m of messages) client.send(m);
      sent = messages.length > 0;
    },
    finish() {
      if (!end) return;
      log.debug(`poke ${client.clientID}: ${client.cookie} → ${cookie}, ${rowCount} rows`);
      client.send(end);
      client.cookie = cookie;
    },
    cancel() {
      if (sent && end) client.send(['pokeEnd', {pokeID: end[1].pokeID, cookie: '', cancel: true}]);
    },
  };
}
