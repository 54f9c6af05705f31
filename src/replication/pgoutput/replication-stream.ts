import type {Duplex} from 'node:stream';
import postgres from 'postgres';
import {bigIntToLsn} from '../../shared/lsn.js';
import {ConnectionLostError, isConnectionLoss} from '../../shared/connection-loss.js';
import {silentLogger, type Logger} from '../../shared/log.js';
import {describeUrl, TEXT_FORMAT_SESSION} from '../upstream-connection.js';
import {
  decodeCopyBothFrame,
  decodePgoutput,
  encodeStandbyStatusUpdate,
  type PgoutputMessage,
} from './decoder.js';

/**
 * The server's report (a keepalive) that it has sent everything up to `walEnd`. Between
 * transactions, acking it lets the slot advance even while no published table changes.
 */
export interface ServerPosition {
  tag: 'position';
  walEnd: bigint;
}

/** One pgoutput message (or a server position) and where the server says it is in the WAL. */
export interface ReplicationMessage {
  /**
   * walStart of the XLogData frame: a change's own LSN, the commit's end LSN for a Commit, and 0
   * for messages that have no WAL position (Relation, Type); walEnd for a ServerPosition.
   */
  lsn: bigint;
  message: PgoutputMessage | ServerPosition;
}

/**
 * A logical replication session on one slot.
 *
 * - Iterating yields the server's pgoutput messages in order. It can be iterated once; leaving the
 *   loop early closes the stream.
 * - Iteration ends normally only after `close()`. Any other end (server error, slot in use, lost
 *   connection, undecodable message) makes the iterator throw an Error starting "replication stream:";
 *   for a lost or refused connection its cause chain satisfies `isConnectionLoss` (retry later).
 * - `ack(lsn)` confirms that everything up to `lsn` is durable downstream; the server may then free
 *   WAL before it and a restart resumes there. Call it only after that is true. Acks never move
 *   backwards: a smaller LSN than the previous ack throws. An ack after the stream ended is recorded
 *   but cannot reach the server (a restart then replays from the last ack the server received).
 * - `close()` ends the session and its connection; it is idempotent.
 */
export interface ReplicationStream extends AsyncIterable<ReplicationMessage> {
  ack(lsn: bigint): void;
  close(): Promise<void>;
}

export interface ReplicationStreamOptions {
  url: string;
  slot: string;
  /** Where to start; the server starts at the slot's confirmed flush LSN if that is later. */
  startLsn: bigint;
  publications: string[];
  log?: Logger;
  /** How often a status update is sent without being asked (keeps wal_sender_timeout at bay). */
  statusIntervalMs?: number;
}

const DEFAULT_STATUS_INTERVAL_MS = 10_000;
// Stop reading from the socket while this many frames wait for the consumer.
const MAX_QUEUED_FRAMES = 1_000;

export async function startReplicationStream(
  opts: ReplicationStreamOptions,
): Promise<ReplicationStream> {
  const where = `slot "${opts.slot}" on ${describeUrl(opts.url)}`;
  const log = (opts.log ?? silentLogger).withContext({component: 'replication-stream'});
  const sql = postgres(opts.url, {
    max: 1,
    // Postgres 18 only warns (and then streams nothing) when a publication does not exist.
    onnotice: (n) => log.warn(`${where}: server ${n.severity}: ${n.message}`),
    // A walsender connection accepts only the simple query protocol, so no type fetching.
    fetch_types: false,
    prepare: false,
    idle_timeout: 0,
    max_lifetime: null,
    connection: {
      application_name: 'zcache-replication',
      ...TEXT_FORMAT_SESSION,
      replication: 'database',
    },
  });
  let duplex: Duplex;
  try {
    duplex = (await sql.unsafe(startReplicationCommand(opts)).writable()) as Duplex;
  } catch (e) {
    await sql.end({timeout: 1});
    throw new Error(`replication stream: cannot start ${where}: ${errorMessage(e)}`, {cause: e});
  }
  log.info(`streaming ${where} from ${bigIntToLsn(opts.startLsn)}`);
  return new PgReplicationStream(sql, duplex, where, log, opts.statusIntervalMs);
}

function startReplicationCommand(opts: ReplicationStreamOptions): string {
  if (opts.publications.length === 0) throw new Error('replication stream: no publications');
  const publications = opts.publications.map(quoteIdentifier).join(',');
  return (
    `START_REPLICATION SLOT ${quoteIdentifier(opts.slot)} LOGICAL ${bigIntToLsn(opts.startLsn)} ` +
    `(proto_version '1', publication_names ${quoteLiteral(publications)}, messages 'true')`
  );
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class PgReplicationStream implements ReplicationStream {
  readonly #frames: Buffer[] = [];
  #wakeConsumer: (() => void) | undefined;
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;
  #iterated = false;
  #lastAck = 0n;
  readonly #statusTimer: NodeJS.Timeout;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly duplex: Duplex,
    private readonly where: string,
    private readonly log: Logger,
    statusIntervalMs = DEFAULT_STATUS_INTERVAL_MS,
  ) {
    duplex.on('data', (chunk: Buffer) => this.#onFrame(chunk));
    duplex.on('error', (e: Error) => this.#fail(`connection error on ${where}: ${e.message}`, e));
    const lost = (what: string) => new ConnectionLostError(what);
    duplex.on('end', () => this.#fail(`server ended the stream on ${where}`, lost('ended')));
    duplex.on('close', () => this.#fail(`connection closed on ${where}`, lost('closed')));
    this.#statusTimer = setInterval(() => this.#sendStatus(), statusIntervalMs);
    this.#statusTimer.unref();
  }

  ack(lsn: bigint): void {
    if (lsn < this.#lastAck) {
      throw new Error(
        `replication stream: ack ${bigIntToLsn(lsn)} is behind the previous ack ` +
          `${bigIntToLsn(this.#lastAck)} on ${this.where}; acks must never move backwards`,
      );
    }
    this.#lastAck = lsn;
    this.#sendStatus();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplicationMessage> {
    if (this.#iterated) throw new Error('replication stream: can be iterated only once');
    this.#iterated = true;
    return this.#messages();
  }

  async *#messages(): AsyncGenerator<ReplicationMessage> {
    try {
      for (;;) {
        const frame = await this.#nextFrame();
        if (frame === undefined) return;
        yield this.#decode(frame);
      }
    } finally {
      await this.close();
    }
  }

  async #nextFrame(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.#closing) return undefined;
      const frame = this.#frames.shift();
      if (frame !== undefined) {
        if (this.#frames.length < MAX_QUEUED_FRAMES / 2 && this.duplex.isPaused()) {
          this.duplex.resume();
        }
        return frame;
      }
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => (this.#wakeConsumer = resolve));
    }
  }

  #decode(frame: Buffer): ReplicationMessage {
    try {
      const xlog = decodeCopyBothFrame(frame);
      if (xlog.tag === 'keepalive')
        return {lsn: xlog.walEnd, message: {tag: 'position', walEnd: xlog.walEnd}};
      return {lsn: xlog.walStart, message: decodePgoutput(xlog.payload)};
    } catch (e) {
      throw new Error(`replication stream: on ${this.where}: ${errorMessage(e)}`, {cause: e});
    }
  }

  #onFrame(chunk: Buffer): void {
    if (this.#closing) return;
    // Keepalives are answered here, not by the consumer, so that a reply is never late.
    if (chunk[0] === 0x6b /* 'k' */) {
      try {
        const keepalive = decodeCopyBothFrame(chunk);
        if (keepalive.tag === 'keepalive' && keepalive.replyRequested) this.#sendStatus();
      } catch (e) {
        this.#fail(`bad keepalive on ${this.where}: ${errorMessage(e)}`, e);
        return;
      }
      // Also queued, in order, so the consumer learns the server's position (see ServerPosition).
    }
    this.#frames.push(chunk);
    if (this.#frames.length >= MAX_QUEUED_FRAMES) this.duplex.pause();
    this.#wake();
  }

  #sendStatus(): void {
    if (this.#closing || this.#failure || !this.duplex.writable) return;
    const lsn = this.#lastAck;
    // LSN 0 (nothing acked yet) is "invalid" to the server, which then leaves the slot untouched.
    this.duplex.write(encodeStandbyStatusUpdate(lsn, lsn, lsn, false, new Date()));
    this.log.debug(`status update: flushed up to ${bigIntToLsn(lsn)}`);
  }

  #fail(problem: string, cause?: unknown): void {
    if (this.#closing || this.#failure) return;
    this.#failure = new Error(`replication stream: ${problem}`, {cause});
    // A lost connection is retried by the caller, which says so; anything else is a fault.
    if (isConnectionLoss(cause)) this.log.warn(this.#failure.message);
    else this.log.error(this.#failure.message);
    clearInterval(this.#statusTimer);
    this.#wake();
  }

  #wake(): void {
    const wake = this.#wakeConsumer;
    this.#wakeConsumer = undefined;
    wake?.();
  }

  async #shutDown(): Promise<void> {
    clearInterval(this.#statusTimer);
    this.#frames.length = 0;
    this.#wake();
    // Drain whatever arrives before the server's CopyDone, or the stream never ends.
    this.duplex.resume();
    const healthy = !this.#failure && this.duplex.writable;
    if (healthy) this.duplex.end();
    // A healthy session ends when the server confirms the CopyDone; a failed one has nothing to wait
    // for (postgres.js would otherwise wait out the whole timeout for a reply that never comes).
    await this.sql.end({timeout: healthy ? 5 : 0});
    this.log.info(`closed ${this.where} (last ack ${bigIntToLsn(this.#lastAck)})`);
  }
}
