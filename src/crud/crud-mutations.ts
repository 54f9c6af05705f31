import type postgres from 'postgres';
import {ProtocolError} from '../protocol/sync-errors.js';
import type {CRUDMutation} from '../protocol/sync-up-push.js';
import type {ReplicaDb} from '../replica/replica-file.js';
import {pgIdent} from '../replication/shard-names.js';
import type {Logger} from '../shared/log.js';
import {isConnectionLoss} from '../shared/connection-loss.js';
import {inTransaction} from '../shared/pg-transaction.js';
import {crudStatement, type CrudStatement} from './crud-sql.js';
import {describeFailureToClient, logUnderErrorId} from './mutation-errors.js';
import type {MutationRateLimit} from './mutation-rate-limit.js';
import {WritePermissions} from './write-permissions.js';
import {readWriteTarget} from './write-target.js';

/**
 * Legacy CRUD mutations of one client group, applied by zcache itself (fact sheet §7.6). Each
 * runs in one SERIALIZABLE upstream transaction that bumps the client's last mutation id (§7.5)
 * and, when the write permissions allow, runs its ops; so a mutation is applied at most once, and
 * its confirmation replicates back with its rows.
 *
 * - Already processed (id below the next expected) → ignored.
 * - Out of order (id above it) → fatal InvalidPush.
 * - Denied by the permissions, or an update or delete of a row the replica lacks → confirmed (the
 *   id is used), nothing written; not an error. The two look the same to the client, so it cannot
 *   probe for keys it may not see.
 * - The ops fail (bad table or column, a constraint) → re-run bumping the id only ("error mode"),
 *   and the client gets a transient MutationFailed; its optimistic write is rolled back when the
 *   confirmation arrives. The message names the cause only when that is the client's input or a
 *   constraint; any other failure is logged under an error id and the client gets the id (see
 *   mutation-errors.ts).
 * - Serialization conflicts → retried, up to MAX_ATTEMPTS.
 * - Upstream unreachable (error mode fails too) → nothing applied or confirmed; the client is told
 *   to reconnect later (ServerOverloaded, with an error id: the cause names hosts and roles) and
 *   re-sends the mutation then.
 * - Over the group's rate limit → transient MutationRateLimited, not applied, not confirmed.
 */
const MAX_ATTEMPTS = 10;
const SERIALIZATION_FAILURE = '40001';
const UNIQUE_VIOLATION = '23505';
/** The failure of a write that is answered as if the permissions had denied it. */
const ANSWERED_AS_DENIED = 'answered as denied';
/** Retries of an out-of-order CRUD mutation when custom mutators run too (their ids interleave). */
const OOO_RETRIES_WITH_CUSTOM = 2;
const OOO_RETRY_MS = 100;

export interface CrudMutationsOptions {
  readonly upstream: postgres.Sql;
  readonly appID: string;
  readonly shardSchema: string;
  readonly clientGroupID: string;
  /** The worker's read-only replica connection (opened on first use). */
  readonly replica: () => ReplicaDb;
  readonly limit?: MutationRateLimit | undefined;
  /** Whether the app also has custom mutators (ZERO_MUTATE_URL). */
  readonly customMutators: boolean;
  readonly log: Logger;
}

class AlreadyProcessed extends Error {
  constructor(readonly lastProcessed: number) {
    super(`already processed through ${lastProcessed}`);
  }
}

export class CrudMutations {
  readonly #o: CrudMutationsOptions;
  /**
   * Per client, the highest mutation id this object saw committed: a re-sent mutation at or below
   * it is known to be processed without asking Postgres (and does not count against the limit).
   */
  readonly #committed = new Map<string, number>();

  constructor(options: CrudMutationsOptions) {
    this.#o = options;
  }

  /**
   * Applies one mutation. Returns the transient error to send the client, if any; throws a fatal
   * ProtocolError (InvalidPush, SchemaVersionNotSupported, ServerOverloaded).
   */
  async process(
    m: CRUDMutation,
    authData: unknown,
    schemaVersion: number | undefined,
  ): Promise<ProtocolError | undefined> {
    if (m.id <= (this.#committed.get(m.clientID) ?? 0)) return undefined;
    if (this.#o.limit && !this.#o.limit.tryTake()) {
      return ProtocolError.of(
        'MutationRateLimited',
        `Rate limit exceeded: client group ${this.#o.clientGroupID} sent more CRUD mutations than ` +
          `ZERO_PER_USER_MUTATION_LIMIT_MAX allows per window; mutation ${m.id} was not applied`,
      );
    }
    let failure: string | undefined;
    let oooRetries = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const errorMode = failure !== undefined;
      try {
        await inTransaction(
          this.#o.upstream,
          `crud mutation ${m.clientID}:${m.id}`,
          'ISOLATION LEVEL SERIALIZABLE',
          (tx) => this.#apply(tx, m, authData, schemaVersion, errorMode),
        );
        this.#noteCommitted(m.clientID, m.id);
        if (!errorMode || failure === ANSWERED_AS_DENIED) return undefined;
        return ProtocolError.of(
          'MutationFailed',
          `mutation ${m.id} of client ${m.clientID} was not applied: ${failure}`,
        );
      } catch (e) {
        if (e instanceof AlreadyProcessed) {
          this.#noteCommitted(m.clientID, e.lastProcessed);
          return undefined;
        }
        if (isOutOfOrder(e) && this.#o.customMutators && oooRetries++ < OOO_RETRIES_WITH_CUSTOM) {
          await new Promise((r) => setTimeout(r, OOO_RETRY_MS));
          attempt--;
          continue;
        }
        if (e instanceof ProtocolError) throw e;
        if ((e as {code?: string}).code === SERIALIZATION_FAILURE) continue;
        // Upstream away (or the commit's fate unknown): never recorded as failed, which would
        // drop a mutation a retry could apply. The client re-sends it; its lmid makes that once.
        if (errorMode || isConnectionLoss(e)) throw this.#unreachable(m, e);
        attempt--;
        if ((e as {code?: string}).code === UNIQUE_VIOLATION) {
          // The key exists, maybe in a row the client may not read: answered exactly as a write
          // the permissions deny (confirmed, nothing written, no error), so it tells nothing.
          this.#o.log.info(
            `crud mutation ${m.clientID}:${m.id} writes an existing key; answered as denied`,
          );
          failure = ANSWERED_AS_DENIED;
          continue;
        }
        failure = describeFailureToClient(
          e,
          this.#o.log,
          `crud mutation ${m.clientID}:${m.id} failed; confirming it only`,
        );
      }
    }
    // Left pending: the client re-sends it when it reconnects.
    this.#o.log.warn(
      `crud mutation ${m.clientID}:${m.id}: ${MAX_ATTEMPTS} serialization conflicts in a row; not applied`,
    );
    return undefined;
  }

  #noteCommitted(clientID: string, id: number): void {
    this.#committed.set(clientID, Math.max(id, this.#committed.get(clientID) ?? 0));
  }

  async #apply(
    tx: postgres.ReservedSql,
    m: CRUDMutation,
    authData: unknown,
    schemaVersion: number | undefined,
    errorMode: boolean,
  ): Promise<void> {
    await this.#confirm(tx, m, schemaVersion);
    if (errorMode) return;
    const replica = this.#o.replica();
    const {ops} = m.args[0];
    // Every op is checked (tables, columns, values) before anything runs.
    const statements = ops
      .map((op) => crudStatement(op, readWriteTarget(replica, op.tableName)))
      .filter((s): s is CrudStatement => s !== null);
    if (!new WritePermissions(replica, this.#o.appID).allows(ops, authData)) {
      this.#o.log.info(
        `crud mutation ${m.clientID}:${m.id} denied by the write permissions; confirmed, not applied`,
      );
      return;
    }
    for (const s of statements)
      await tx.unsafe(s.text, s.params as postgres.ParameterOrJSON<never>[]);
  }

  /** Bumps the client's last mutation id; the mutation must be the next one (§7.5). */
  async #confirm(
    tx: postgres.ReservedSql,
    m: CRUDMutation,
    schemaVersion: number | undefined,
  ): Promise<void> {
    const [row] = await tx.unsafe<{lastMutationID: string}[]>(
      `INSERT INTO ${pgIdent(this.#o.shardSchema)}."clients" AS c
         ("clientGroupID", "clientID", "lastMutationID") VALUES ($1, $2, 1)
       ON CONFLICT ("clientGroupID", "clientID")
         DO UPDATE SET "lastMutationID" = c."lastMutationID" + 1
       RETURNING "lastMutationID"`,
      [this.#o.clientGroupID, m.clientID],
    );
    const expected = Number(row!.lastMutationID);
    if (m.id < expected) throw new AlreadyProcessed(expected - 1);
    if (m.id > expected) {
      throw ProtocolError.of(
        'InvalidPush',
        `Push contains unexpected mutation id ${m.id} for client ${m.clientID}. ` +
          `Expected mutation id ${expected}.`,
      );
    }
    if (schemaVersion !== undefined) await this.#checkSchemaVersion(tx, schemaVersion);
  }

  async #checkSchemaVersion(tx: postgres.ReservedSql, v: number): Promise<void> {
    const [range] = await tx.unsafe<{min: number; max: number}[]>(
      `SELECT "minSupportedVersion" AS min, "maxSupportedVersion" AS max
         FROM ${pgIdent(this.#o.appID)}."schemaVersions"`,
    );
    if (range && (v < range.min || v > range.max)) {
      throw ProtocolError.of(
        'SchemaVersionNotSupported',
        `Schema version ${v} is not in the supported range [${range.min}, ${range.max}]; ` +
          'reload the app to get a supported schema',
      );
    }
  }

  #unreachable(m: CRUDMutation, e: unknown): ProtocolError {
    const id = logUnderErrorId(
      e,
      this.#o.log,
      `crud mutation ${m.clientID}:${m.id} could not reach upstream`,
    );
    return ProtocolError.of(
      'ServerOverloaded',
      `zcache could not apply mutation ${m.id} upstream (error id ${id}; the zcache log has ` +
        'the details); the client sends it again when it reconnects, and it is applied once',
      {minBackoffMs: 1000},
    );
  }
}

function isOutOfOrder(e: unknown): boolean {
  return e instanceof ProtocolError && e.kind === 'InvalidPush';
}
