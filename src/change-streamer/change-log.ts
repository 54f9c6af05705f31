import type postgres from 'postgres';
import type {ChangeStreamMessage, DataChange} from '../protocol/change-stream.js';
import {cdcSchema, pgIdent, type ShardId} from '../replication/shard-names.js';
import {parseBigIntJSON, stringifyBigIntJSON} from '../shared/bigint-json.js';
import {assertAdvances, type LexiVersion} from '../shared/lexi-version.js';
import {inTransaction} from '../shared/pg-transaction.js';
import {settledOrLost} from '../shared/postgres-dropped-writes.js';

/**
 * The durable change log in ZERO_CHANGE_DB (schema `"{app}_{shard}/cdc"`, fact sheet §6.4): every
 * committed upstream transaction as rows (watermark, pos) with pos 0 = begin, then its changes, then
 * commit. `replicationState.lastWatermark` is the watermark of the last stored transaction.
 *
 * Contracts: a transaction becomes visible to readers only when it is committed here, all at once;
 * stored watermarks strictly increase (a store that would not advance lastWatermark fails, which also
 * stops a second writer); purging removes whole transactions only.
 */
export interface ChangeLogState {
  replicaVersion: LexiVersion;
  publications: string[];
  lastWatermark: LexiVersion;
}

const FLUSH_ENTRIES = 2000;

/** Statements run for every stored transaction: prepared once per connection, not parsed each time. */
const PREPARED = {prepare: true} as const;

export class ChangeLog {
  readonly #sql: postgres.Sql;
  readonly #schema: string;

  constructor(sql: postgres.Sql, shard: ShardId) {
    this.#sql = sql;
    this.#schema = pgIdent(cdcSchema(shard));
  }

  /** Every statement runs in here: one whose write postgres.js dropped fails instead of hanging. */
  #run<T>(what: string, work: () => Promise<T>): Promise<T> {
    return settledOrLost(`change log: ${what}`, work);
  }

  #transaction<T>(what: string, work: (tx: postgres.ReservedSql) => Promise<T>): Promise<T> {
    return inTransaction(this.#sql, `change log: ${what}`, 'ISOLATION LEVEL READ COMMITTED', work);
  }

  async ensureTables(): Promise<void> {
    const s = this.#schema;
    await this.#sql.unsafe(`
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}."changeLog" (
        "watermark" TEXT NOT NULL, "pos" INT8 NOT NULL, "change" JSON NOT NULL, "precommit" TEXT,
        PRIMARY KEY ("watermark", "pos"));
      CREATE TABLE IF NOT EXISTS ${s}."replicationState" (
        "lastWatermark" TEXT NOT NULL, "owner" TEXT, "ownerAddress" TEXT,
        "lock" INT PRIMARY KEY DEFAULT 1 CHECK ("lock" = 1));
      CREATE TABLE IF NOT EXISTS ${s}."replicationConfig" (
        "replicaVersion" TEXT NOT NULL, "publications" TEXT[] NOT NULL, "resetRequired" BOOL,
        "lock" INT PRIMARY KEY DEFAULT 1 CHECK ("lock" = 1));
      ALTER TABLE ${s}."replicationState" ADD COLUMN IF NOT EXISTS "purgedThrough" TEXT;`);
  }

  async state(): Promise<ChangeLogState | null> {
    const s = this.#schema;
    const rows = await this.#run('state', () =>
      this.#sql.unsafe(
        `SELECT c."replicaVersion", c."publications", r."lastWatermark"
           FROM ${s}."replicationConfig" c JOIN ${s}."replicationState" r ON true`,
      ),
    );
    const r = rows[0] as
      {replicaVersion: string; publications: string[]; lastWatermark: string} | undefined;
    return r
      ? {
          replicaVersion: r.replicaVersion,
          publications: r.publications,
          lastWatermark: r.lastWatermark,
        }
      : null;
  }

  /** Starts the log afresh for a new replica (after an initial sync). */
  async reset(replicaVersion: LexiVersion, publications: string[], owner: string): Promise<void> {
    const s = this.#schema;
    await this.#transaction('reset', async (tx) => {
      await tx.unsafe(`TRUNCATE ${s}."changeLog"`);
      await tx.unsafe(
        `INSERT INTO ${s}."replicationConfig" ("replicaVersion","publications","resetRequired","lock") VALUES ($1,$2,false,1)
         ON CONFLICT ("lock") DO UPDATE SET "replicaVersion" = $1, "publications" = $2, "resetRequired" = false`,
        [replicaVersion, publications],
      );
      await tx.unsafe(
        `INSERT INTO ${s}."replicationState" ("lastWatermark","owner","lock") VALUES ($1,$2,1)
         ON CONFLICT ("lock") DO UPDATE SET "lastWatermark" = $1, "owner" = $2, "purgedThrough" = NULL`,
        [replicaVersion, owner],
      );
    });
  }

  /** Stores one whole transaction atomically. */
  store(watermark: LexiVersion, changes: readonly DataChange[]): Promise<void> {
    return this.storeMany([{watermark, changes}]);
  }

  /**
   * Stores several consecutive transactions in one Postgres transaction (group commit): all or
   * none of them become visible.
   */
  async storeMany(
    txs: readonly {watermark: LexiVersion; changes: readonly DataChange[]}[],
  ): Promise<void> {
    if (txs.length === 0) return;
    await this.#transaction('store', (tx) => this.#storeMany(tx, txs));
  }

  async #storeMany(
    tx: postgres.ReservedSql,
    txs: readonly {watermark: LexiVersion; changes: readonly DataChange[]}[],
  ): Promise<void> {
    const s = this.#schema;
    const [row] = await tx.unsafe(`SELECT "lastWatermark" FROM ${s}."replicationState" FOR UPDATE`);
    let last = (row as {lastWatermark: string} | undefined)?.lastWatermark;
    if (last === undefined)
      throw new Error('change log: not initialised (no replicationState row)');
    const entries: [string, number, string][] = [];
    for (const t of txs) {
      assertAdvances(last, t.watermark, 'change log: store');
      last = t.watermark;
      entries.push([t.watermark, 0, '{"tag":"begin"}']);
      t.changes.forEach((c, i) => entries.push([t.watermark, i + 1, stringifyBigIntJSON(c)]));
      entries.push([t.watermark, t.changes.length + 1, '{"tag":"commit"}']);
    }
    for (let i = 0; i < entries.length; i += FLUSH_ENTRIES) {
      const batch = entries.slice(i, i + FLUSH_ENTRIES);
      await tx.unsafe(
        `INSERT INTO ${s}."changeLog" ("watermark","pos","change")
         SELECT w, p, c::json FROM unnest($1::text[], $2::int8[], $3::text[]) AS e(w, p, c)`,
        [batch.map((e) => e[0]), batch.map((e) => e[1]), batch.map((e) => e[2])],
        PREPARED,
      );
    }
    await tx.unsafe(`UPDATE ${s}."replicationState" SET "lastWatermark" = $1`, [last], PREPARED);
  }

  /**
   * Messages of every stored transaction with watermark > `after`, in order, read in batches.
   * Stops at the end of what is committed when the read starts. Throws ChangeLogGapError when
   * the log no longer holds everything after `after` (or a purge overtakes the read): a reader is
   * never handed a stream with transactions missing.
   */
  async *readAfter(after: LexiVersion, batchSize = 5000): AsyncGenerator<ChangeStreamMessage> {
    const s = this.#schema;
    let cursor: [string, number] = [after, Number.MAX_SAFE_INTEGER];
    for (;;) {
      const rows = (await this.#run('read', () =>
        this.#sql.unsafe(
          `SELECT "watermark", "pos", "change"::text AS "change" FROM ${s}."changeLog"
            WHERE ("watermark", "pos") > ($1, $2) ORDER BY "watermark", "pos" LIMIT $3`,
          [cursor[0], cursor[1], batchSize],
          PREPARED,
        ),
      )) as unknown as {watermark: string; pos: string; change: string}[];
      // Checked after the read: a purge that ran before or during it shows in purgedThrough.
      const purgedThrough = await this.#purgedThrough();
      if (purgedThrough !== null && cursor[0] < purgedThrough)
        throw new ChangeLogGapError(cursor[0], purgedThrough);
      for (const r of rows) yield toMessage(r.watermark, r.change);
      if (rows.length < batchSize) return;
      const lastRow = rows[rows.length - 1]!;
      cursor = [lastRow.watermark, Number(lastRow.pos)];
    }
  }

  /**
   * Deletes transactions with watermark < `before`, and records the newest one deleted, so that a
   * subscriber that would need it is told its watermark is too old instead of missing it. Returns
   * the number of entries removed.
   */
  async purgeBefore(before: LexiVersion): Promise<number> {
    const s = this.#schema;
    return this.#transaction('purge', async (tx) => {
      const [r] = await tx.unsafe(
        `WITH gone AS (DELETE FROM ${s}."changeLog" WHERE "watermark" < $1 RETURNING "watermark")
         SELECT count(*)::int AS n, max("watermark") AS newest FROM gone`,
        [before],
      );
      const {n, newest} = r as unknown as {n: number; newest: string | null};
      if (newest !== null) {
        await tx.unsafe(
          `UPDATE ${s}."replicationState"
              SET "purgedThrough" = GREATEST(COALESCE("purgedThrough", ''), $1)`,
          [newest],
        );
      }
      return n;
    });
  }

  /**
   * True when every stored transaction after `watermark` is still in the log, i.e. a subscriber
   * that has applied up to `watermark` can catch up from here.
   */
  async coversAfter(watermark: LexiVersion): Promise<boolean> {
    const purgedThrough = await this.#purgedThrough();
    return purgedThrough === null || watermark >= purgedThrough;
  }

  /** The newest watermark purged from the log; null when nothing was. */
  async #purgedThrough(): Promise<LexiVersion | null> {
    const [r] = await this.#run('purged-through', () =>
      this.#sql.unsafe(
        `SELECT "purgedThrough" FROM ${this.#schema}."replicationState"`,
        [],
        PREPARED,
      ),
    );
    return (r as {purgedThrough: string | null} | undefined)?.purgedThrough ?? null;
  }
}

/** A reader asked for transactions the log has purged: applying what follows would skip some. */
export class ChangeLogGapError extends Error {
  override readonly name = 'ChangeLogGapError';
  constructor(
    readonly after: LexiVersion,
    readonly purgedThrough: LexiVersion,
  ) {
    super(
      `change log: transactions after ${after} are needed but the log was purged through ` +
        `${purgedThrough}; the reader must be resynced or restored, not resumed across the gap`,
    );
  }
}

function toMessage(watermark: string, changeText: string): ChangeStreamMessage {
  const change = parseBigIntJSON(changeText) as {tag: string};
  switch (change.tag) {
    case 'begin':
      return ['begin', {tag: 'begin'}, {commitWatermark: watermark}];
    case 'commit':
      return ['commit', {tag: 'commit'}, {watermark}];
    default:
      return ['data', change as DataChange];
  }
}
