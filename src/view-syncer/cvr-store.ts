import type postgres from 'postgres';
import type {ShardId} from '../replication/shard-names.js';
import {isConnectionLoss} from '../shared/connection-loss.js';
import {endTransaction, inTransaction, onReservedConnection} from '../shared/pg-transaction.js';
import {settledOrLost} from '../shared/postgres-dropped-writes.js';
import {cvrSchemaIdent} from './cvr-schema.js';
import {
  desiresByClient,
  instanceFromRow,
  queryFromRow,
  ROW_COLUMNS,
  rowFromRow,
  type DesireRow,
  type InstanceRow,
  type QueryRow,
  type RowsRow,
} from './cvr-store-codec.js';
import {
  ClientGroupPurgedError,
  ConcurrentModificationError,
  OwnershipError,
} from './cvr-store-errors.js';
import {
  tombstoneClientGroups,
  upsertDesires,
  deleteQueries,
  upsertQueries,
  upsertRows,
  writeClients,
  writeInstance,
  type Statement,
} from './cvr-store-writes.js';
import type {CVRInstance, CVRSnapshot, DesireRecord, QueryRecord, RowRecord} from './cvr-types.js';
import {compareVersions, EMPTY_CVR_VERSION, versionString, type CVRVersion} from './cvr-version.js';

export {ClientGroupPurgedError, ConcurrentModificationError, OwnershipError};

/** What one flush writes. Every list is an upsert; deletions are tombstones (`deleted`, null refCounts). */
export interface CVRUpdate {
  instance: CVRInstance;
  clients?: {put?: string[]; del?: string[]};
  queries?: QueryRecord[];
  desires?: DesireRecord[];
  /** Query hashes whose records (and desires) are forgotten: see QuerySet.purgeTombstones. */
  purgedQueries?: string[];
  rows?: RowRecord[];
}

const READ_BATCH = 5000;
/** Row records written inside a flush; more are written back after it. */
const ROWS_IN_FLUSH = 100;

/**
 * The persistence of one client group's CVR in ZERO_CVR_DB (fact sheet §3.3–3.5), written by the
 * task (`taskID` = ZERO_TASK_ID) that owns the group.
 *
 * Contracts:
 * - `load` reads a consistent snapshot and takes ownership of the group unless another task holds
 *   it since a later client connect than this task's (`OwnershipError`).
 * - `flush` is all or nothing, and only applies on top of the version it was computed from
 *   (`ConcurrentModificationError` otherwise) while this task still owns the group. It writes this
 *   task as owner since `lastConnectTime`: `update.instance.owner`/`grantedAt` are not used.
 * - Up to ROWS_IN_FLUSH row records are written in the flush's transaction (`rowsVersion` =
 *   `version`). More — a hydration — are written back after it, in their own transaction (as the
 *   reference does), so that the poke need not wait for them: until that commits `rowsVersion` is
 *   behind `version`, and a load then reports `rowsComplete: false`. The next flush and every read
 *   of rows wait for a write-back in progress; a failed one fails the next flush.
 * - A garbage-collected group stays gone: loads and flushes fail with `ClientGroupPurgedError`.
 */
/** Fixed statement texts run on every step: prepared once per connection (see cvr-store-writes). */
const PREPARED = {prepare: true} as const;

type LockedInstance = Pick<InstanceRow, 'version' | 'owner' | 'grantedAt' | 'deleted'>;

export class CVRStore {
  readonly #sql: postgres.Sql;
  readonly #asyncCommit: boolean;
  /** A write-back of row records in progress, and the failure of the last one. */
  #rowsWrite: Promise<void> | null = null;
  #rowsWriteError: Error | null = null;
  readonly #schema: string;
  readonly #clientGroupID: string;
  readonly #taskID: string;

  /**
   * `asyncCommit`: flushes commit without waiting for Postgres to fsync them. A Postgres crash may
   * then forget the last fraction of a second of flushes; clients already told those versions are
   * ahead of the CVR when they reconnect, and get their view reset (see AheadClients), losing
   * nothing. A zcache crash loses nothing either way.
   */
  constructor(
    sql: postgres.Sql,
    shard: ShardId,
    clientGroupID: string,
    taskID: string,
    opts: {asyncCommit?: boolean} = {},
  ) {
    this.#asyncCommit = opts.asyncCommit ?? false;
    this.#sql = sql;
    this.#schema = cvrSchemaIdent(shard);
    this.#clientGroupID = clientGroupID;
    this.#taskID = taskID;
  }

  /**
   * The group's CVR without its rows: a new, empty one at version `00` (not yet stored) when the
   * group is unknown. Takes ownership for this task, whose latest client connect was at
   * `lastConnectTime` (epoch ms).
   */
  async load(lastConnectTime: number): Promise<CVRSnapshot> {
    const s = this.#schema;
    const id = this.#clientGroupID;
    await this.#rowsWritten();
    const [instanceRows, clientRows, queryRows, desireRows, rowsVersionRows] = await inTransaction(
      this.#sql,
      this.#what('load'),
      'ISOLATION LEVEL REPEATABLE READ READ ONLY',
      (tx) =>
        Promise.all([
          tx.unsafe<InstanceRow[]>(
            `SELECT "version", "lastActive", "ttlClock", "replicaVersion", "owner", "grantedAt",
             "clientSchema", "profileID", "principal", "queriesPurgedThrough", "handedOutCeiling",
             "lostRanges", "deleted"
             FROM ${s}.instances WHERE "clientGroupID" = $1`,
            [id],
            PREPARED,
          ),
          tx.unsafe<{clientID: string}[]>(
            `SELECT "clientID" FROM ${s}.clients WHERE "clientGroupID" = $1`,
            [id],
            PREPARED,
          ),
          tx.unsafe<QueryRow[]>(
            `SELECT "queryHash", "clientAST", "queryName", "queryArgs", "patchVersion",
             "transformationHash", "internal", "deleted" FROM ${s}.queries WHERE "clientGroupID" = $1`,
            [id],
            PREPARED,
          ),
          tx.unsafe<DesireRow[]>(
            `SELECT "clientID", "queryHash", "patchVersion", "deleted", "ttlMs", "inactivatedAtMs"
             FROM ${s}.desires WHERE "clientGroupID" = $1`,
            [id],
            PREPARED,
          ),
          tx.unsafe<{version: string}[]>(
            `SELECT "version" FROM ${s}."rowsVersion" WHERE "clientGroupID" = $1`,
            [id],
            PREPARED,
          ),
        ]),
    );
    const stored = instanceRows[0];
    if (stored?.deleted) throw new ClientGroupPurgedError(id);
    const instance = stored ? instanceFromRow(id, stored) : this.#newInstance();
    if (stored && instance.owner !== this.#taskID) {
      if ((instance.grantedAt ?? 0) > lastConnectTime) {
        throw new OwnershipError(id, instance.owner, instance.grantedAt, lastConnectTime);
      }
      await this.#takeOwnership(lastConnectTime);
      instance.owner = this.#taskID;
      instance.grantedAt = lastConnectTime;
    }
    return {
      instance,
      rowsComplete: !stored || rowsVersionRows[0]?.version === stored.version,
      clients: new Set(clientRows.map((r) => r.clientID)),
      queries: new Map(queryRows.map((r) => [r.queryHash, queryFromRow(r)])),
      desires: desiresByClient(desireRows),
    };
  }

  #newInstance(): CVRInstance {
    return {
      clientGroupID: this.#clientGroupID,
      version: EMPTY_CVR_VERSION,
      lastActive: Date.now(),
      ttlClock: 0,
      replicaVersion: null,
      clientSchema: null,
      profileID: null,
      principal: null,
      queriesPurgedThrough: null,
      handedOutCeiling: null,
      lostRanges: [],
      owner: null,
      grantedAt: null,
    };
  }

  /**
   * Signals the current owner to stop (its next flush fails). Guarded by `grantedAt`, so a task
   * with a more recent connect that took the group in the meantime keeps it, and this load fails.
   */
  async #takeOwnership(lastConnectTime: number): Promise<void> {
    const s = this.#schema;
    const taken = await this.#sql.unsafe(
      `UPDATE ${s}.instances SET "owner" = $2, "grantedAt" = to_timestamp($3::float8 / 1000)
        WHERE "clientGroupID" = $1 AND NOT "deleted"
          AND ("grantedAt" IS NULL OR "grantedAt" <= to_timestamp($3::float8 / 1000))`,
      [this.#clientGroupID, this.#taskID, lastConnectTime],
      PREPARED,
    );
    if (taken.count === 1) return;
    const [now] = await this.#sql.unsafe<Pick<InstanceRow, 'owner' | 'grantedAt' | 'deleted'>[]>(
      `SELECT "owner", "grantedAt", "deleted" FROM ${s}.instances WHERE "clientGroupID" = $1`,
      [this.#clientGroupID],
      PREPARED,
    );
    if (!now || now.deleted) throw new ClientGroupPurgedError(this.#clientGroupID);
    const grantedAt = now.grantedAt?.getTime() ?? null;
    throw new OwnershipError(this.#clientGroupID, now.owner, grantedAt, lastConnectTime);
  }

  /**
   * Writes `update` on top of version `expected` (the version loaded; null for a CVR never
   * stored), in one transaction. Queries are written before desires, which must name stored queries.
   */
  async flush(
    expected: CVRVersion | null,
    update: CVRUpdate,
    lastConnectTime: number,
    opts: {durable?: boolean} = {},
  ): Promise<void> {
    const {instance} = update;
    const id = this.#clientGroupID;
    if (instance.clientGroupID !== id) {
      throw new Error(`CVR store of client group ${id} cannot flush ${instance.clientGroupID}`);
    }
    if (expected !== null && compareVersions(instance.version, expected) < 0) {
      throw new Error(
        `CVR of client group ${id}: flush would move the version back from ` +
          `${versionString(expected)} to ${versionString(instance.version)}`,
      );
    }
    await this.#rowsWritten(true);
    const s = this.#schema;
    const ownership = {owner: this.#taskID, grantedAt: lastConnectTime};
    const rows = update.rows ?? [];
    const writeBack = rows.length > ROWS_IN_FLUSH;
    const version = versionString(instance.version);
    await this.#pipelinedTransaction(
      (tx) => [
        this.#lockInstance(tx),
        writeInstance(tx, s, instance, ownership, expected === null),
        ...(update.clients ? writeClients(tx, s, id, update.clients) : []),
        ...deleteQueries(tx, s, id, update.purgedQueries ?? []),
        ...upsertQueries(tx, s, id, update.queries ?? []),
        ...upsertDesires(tx, s, id, update.desires ?? []),
        ...(writeBack ? [] : upsertRows(tx, s, id, rows, version)),
      ],
      ([locked, wrote]) => {
        this.#checkVersionAndOwnership(
          locked![0] as LockedInstance | undefined,
          expected,
          lastConnectTime,
        );
        if (expected === null && wrote!.count !== 1)
          throw new ConcurrentModificationError(id, null, '(created concurrently)');
      },
      opts.durable === true,
    );
    // Started on a later turn of the event loop: building its statements takes milliseconds, and
    // the caller's pokeEnd, which waits for this flush only, should not wait for that too.
    if (writeBack) {
      this.#rowsWrite = new Promise<void>((r) => setImmediate(r)).then(() =>
        this.#writeRowsBack(rows, version),
      );
    }
  }

  /**
   * Writes row records flushed at `version`, if this task still owns the group at that version
   * (else a newer flush or owner has superseded them, and they are dropped).
   */
  async #writeRowsBack(rows: readonly RowRecord[], version: string): Promise<void> {
    try {
      await this.#pipelinedTransaction(
        (tx) => [
          this.#lockInstance(tx),
          ...upsertRows(tx, this.#schema, this.#clientGroupID, rows, version),
        ],
        (results) => {
          const [locked] = results as unknown as [LockedInstance[]];
          const now = locked[0];
          if (now?.owner !== this.#taskID || now.version !== version) {
            throw new Error(`superseded by version ${now?.version} of owner ${now?.owner}`);
          }
        },
      );
    } catch (e) {
      this.#rowsWriteError = new Error(
        `CVR of client group ${this.#clientGroupID}: writing back ${rows.length} row records ` +
          `of version ${version} failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    } finally {
      this.#rowsWrite = null;
    }
  }

  /** Waits for a write-back in progress; with `rethrow`, fails if the last one failed. */
  async #rowsWritten(rethrow = false): Promise<void> {
    if (this.#rowsWrite) await this.#rowsWrite;
    const e = this.#rowsWriteError;
    if (rethrow && e) {
      this.#rowsWriteError = null;
      throw e;
    }
  }

  /**
   * Runs statements in one transaction sent at once (BEGIN, the statements: one round trip), then
   * `check` on their results decides between COMMIT and ROLLBACK (a second). Statements after the
   * row lock see what it locked; nothing is visible to others unless `check` passes.
   */
  #pipelinedTransaction(
    statements: (tx: postgres.ReservedSql) => Statement[],
    check: (results: postgres.RowList<postgres.Row[]>[]) => void,
    durable = false,
  ): Promise<void> {
    const what = this.#what('transaction');
    return onReservedConnection(this.#sql, what, async (tx) => {
      const opening = [tx.unsafe('BEGIN ISOLATION LEVEL READ COMMITTED')];
      if (this.#asyncCommit && !durable)
        opening.push(tx.unsafe('SET LOCAL synchronous_commit TO OFF'));
      const sent = [...opening, ...statements(tx)].map((q) => q.execute());
      const settled = await Promise.allSettled(sent);
      try {
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw (failed as PromiseRejectedResult).reason;
        check(settled.slice(opening.length).map((r) => (r as PromiseFulfilledResult<never>).value));
      } catch (e) {
        // A lost connection rolled back on the server; a ROLLBACK sent on it would never settle.
        if (!isConnectionLoss(e)) await endTransaction(tx, 'ROLLBACK', what);
        throw e;
      }
      await endTransaction(tx, 'COMMIT', what);
    });
  }

  #lockInstance(tx: postgres.ReservedSql): Statement {
    return tx.unsafe(
      `SELECT "version", "owner", "grantedAt", "deleted" FROM ${this.#schema}.instances
        WHERE "clientGroupID" = $1 FOR UPDATE`,
      [this.#clientGroupID],
      PREPARED,
    );
  }

  #checkVersionAndOwnership(
    row: LockedInstance | undefined,
    expected: CVRVersion | null,
    lastConnectTime: number,
  ): void {
    const id = this.#clientGroupID;
    if (row?.deleted) throw new ClientGroupPurgedError(id);
    const grantedAt = row?.grantedAt?.getTime() ?? null;
    if (row && row.owner !== this.#taskID && (grantedAt ?? 0) > lastConnectTime) {
      throw new OwnershipError(id, row.owner, grantedAt, lastConnectTime);
    }
    const expectedString = expected === null ? null : versionString(expected);
    if ((row?.version ?? null) !== expectedString) {
      throw new ConcurrentModificationError(id, expectedString, row?.version ?? null);
    }
  }

  /**
   * Row records changed after cookie `afterCookie` (all when null) up to and including `upTo`,
   * tombstones included, in batches of at most `batchSize`, in no particular order. All batches
   * come from one read-only snapshot (a cursor on a connection held until the iteration ends or is
   * abandoned), so a row is never missed or repeated.
   */
  async *catchupRows(
    afterCookie: string | null,
    upTo: CVRVersion,
    batchSize = READ_BATCH,
  ): AsyncIterable<RowRecord[]> {
    const params = [this.#clientGroupID, versionString(upTo)];
    if (afterCookie !== null) params.push(afterCookie);
    const conn = await this.#sql.reserve();
    // The last statement sent: the connection is ended (and released) only once it settled.
    let last: Promise<unknown> = Promise.resolve();
    const send = <T>(what: string, p: Promise<T>): Promise<T> => {
      last = p;
      return this.#read(what, () => p);
    };
    try {
      await send('catch-up', conn.unsafe('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'));
      const rows = conn.unsafe<RowsRow[]>(
        `SELECT ${ROW_COLUMNS} FROM ${this.#schema}.rows
          WHERE "clientGroupID" = $1 AND "patchVersion" <= $2
            ${afterCookie === null ? '' : 'AND "patchVersion" > $3'}`,
        params,
        PREPARED,
      );
      const batches = rows.cursor(batchSize)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await send('catch-up rows', batches.next());
          if (next.done) break;
          yield next.value.map(rowFromRow);
        }
      } finally {
        await batches.return?.();
      }
    } finally {
      void this.#endReadOnly(conn, last);
    }
  }

  /**
   * Read-only, so ROLLBACK loses nothing, also when the reader stopped early; then the connection
   * goes back to the pool — unless it was lost (see `onReservedConnection`).
   */
  async #endReadOnly(conn: postgres.ReservedSql, last: Promise<unknown>): Promise<void> {
    const lost = (e: unknown) => isConnectionLoss(e);
    if (await last.then(() => false, lost)) return;
    const ended = endTransaction(conn, 'ROLLBACK', this.#what('catch-up'));
    if (await ended.then(() => false, lost)) return;
    conn.release();
  }

  /** Row records that any of `queryHashes` references (tombstones hold none). */
  async rowsForQueries(queryHashes: readonly string[]): Promise<RowRecord[]> {
    await this.#rowsWritten();
    if (queryHashes.length === 0) return [];
    const rows = await this.#read('rows of queries', () =>
      this.#sql.unsafe<RowsRow[]>(
        `SELECT ${ROW_COLUMNS} FROM ${this.#schema}.rows
        WHERE "clientGroupID" = $1 AND "refCounts" ?| $2::text[]`,
        [this.#clientGroupID, [...queryHashes]],
        PREPARED,
      ),
    );
    return rows.map(rowFromRow);
  }

  /** Every row record of the group, tombstones included. For small groups. */
  async allRows(): Promise<RowRecord[]> {
    await this.#rowsWritten();
    const rows = await this.#read('all rows', () =>
      this.#sql.unsafe<RowsRow[]>(
        `SELECT ${ROW_COLUMNS} FROM ${this.#schema}.rows WHERE "clientGroupID" = $1`,
        [this.#clientGroupID],
        PREPARED,
      ),
    );
    return rows.map(rowFromRow);
  }

  /**
   * Deletes the group's CVR, leaving the same tombstone as garbage collection: its clients get
   * ClientNotFound when they come back. Waits for a flush in progress (row lock).
   */
  async deleteClientGroup(): Promise<void> {
    await inTransaction(this.#sql, this.#what('delete'), 'ISOLATION LEVEL READ COMMITTED', (tx) =>
      this.#deleteClientGroup(tx),
    );
  }

  #read<T>(what: string, work: () => Promise<T>): Promise<T> {
    return settledOrLost(this.#what(what), work);
  }

  #what(what: string): string {
    return `CVR of client group ${this.#clientGroupID}: ${what}`;
  }

  async #deleteClientGroup(tx: postgres.ReservedSql): Promise<void> {
    await tx.unsafe(
      `SELECT 1 FROM ${this.#schema}.instances WHERE "clientGroupID" = $1 FOR UPDATE`,
      [this.#clientGroupID],
      PREPARED,
    );
    await tombstoneClientGroups(tx, this.#schema, [this.#clientGroupID]);
  }
}

const TOMBSTONE_RETENTION_MS = 31 * 24 * 60 * 60 * 1000;

/**
 * Garbage collection (§3.5): tombstones up to `batchSize` client groups inactive for longer than
 * `olderThanMs` (oldest first) and deletes tombstones older than `tombstoneRetentionMs`. Groups
 * being flushed are skipped (SKIP LOCKED), not waited for. Returns the number of groups purged.
 */
export async function purgeInactive(
  sql: postgres.Sql,
  shard: ShardId,
  olderThanMs: number,
  batchSize: number,
  tombstoneRetentionMs = TOMBSTONE_RETENTION_MS,
): Promise<number> {
  if (batchSize <= 0) return 0;
  const s = cvrSchemaIdent(shard);
  const now = Date.now();
  return await inTransaction(
    sql,
    'CVR garbage collection',
    'ISOLATION LEVEL READ COMMITTED',
    async (tx) => {
      const ids = await tx.unsafe<{clientGroupID: string}[]>(
        `SELECT "clientGroupID" FROM ${s}.instances
        WHERE NOT "deleted" AND "lastActive" < to_timestamp($1::float8 / 1000)
        ORDER BY "lastActive" LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [now - olderThanMs, batchSize],
        PREPARED,
      );
      await tombstoneClientGroups(
        tx,
        s,
        ids.map((r) => r.clientGroupID),
      );
      await tx.unsafe(
        `DELETE FROM ${s}.instances WHERE "deleted" AND "lastActive" < to_timestamp($1::float8 / 1000)`,
        [now - tombstoneRetentionMs],
        PREPARED,
      );
      return ids.length;
    },
  );
}
