import type postgres from 'postgres';
import type {Logger} from '../shared/log.js';
import {watermarkToLsn} from '../shared/lsn.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import {ChangeMaker, type SourceEvent} from './change-maker.js';
import {PgTypeRegistry} from './pg-type-registry.js';
import {startReplicationStream, type ReplicationStream} from './pgoutput/replication-stream.js';
import {ddlMessagePrefix, type ShardId} from './shard-names.js';

/**
 * The stream of committed upstream transactions, as change-stream events. This is the seam between
 * Postgres and the change log: tests substitute their own source to inject faults.
 *
 * Contract: events come in begin, data…, commit groups, in commit order. After `ack(commit)` the
 * source never again yields transactions at or before that commit, even across restarts; without
 * an ack it may yield them again (the consumer deduplicates by watermark). A `status` event between
 * transactions may be acked too, so that upstream can free its log while nothing published changes.
 */
export interface ChangeSource extends AsyncIterable<SourceEvent> {
  /** Confirms a commit or status event; positions never move backwards. */
  ack(event: Extract<SourceEvent, {type: 'commit' | 'status'}>): void;
  close(): Promise<void>;
}

export interface PgChangeSourceOptions {
  upstreamUrl: string;
  upstream: postgres.Sql;
  shard: ShardId;
  slot: string;
  publications: string[];
  /** The last watermark already stored downstream; streaming resumes after it. */
  after: LexiVersion;
  log: Logger;
}

export async function startPgChangeSource(opts: PgChangeSourceOptions): Promise<ChangeSource> {
  const types = new PgTypeRegistry(opts.upstream);
  await types.load();
  const stream = await startReplicationStream({
    url: opts.upstreamUrl,
    slot: opts.slot,
    startLsn: watermarkToLsn(opts.after),
    publications: opts.publications,
    log: opts.log,
  });
  return new PgChangeSource(stream, new ChangeMaker(types, ddlMessagePrefix(opts.shard), opts.log));
}

class PgChangeSource implements ChangeSource {
  readonly #stream: ReplicationStream;
  readonly #maker: ChangeMaker;

  constructor(stream: ReplicationStream, maker: ChangeMaker) {
    this.#stream = stream;
    this.#maker = maker;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SourceEvent> {
    for await (const {message} of this.#stream) {
      yield* await this.#maker.process(message);
    }
  }

  #acked = 0n;

  ack(event: Extract<SourceEvent, {type: 'commit' | 'status'}>): void {
    // A keepalive can report a position a little behind the last commit's end: never step back.
    if (event.ackLsn <= this.#acked) return;
    this.#acked = event.ackLsn;
    this.#stream.ack(event.ackLsn);
  }

  close(): Promise<void> {
    return this.#stream.close();
  }
}
