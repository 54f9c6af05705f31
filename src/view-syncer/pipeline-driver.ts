import type {AST} from '../protocol/ast.js';
import type {ReplicaDb} from '../replica/replica-file.js';
import type {WindowedChanges} from '../replica/row-change-window.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import {internalErrorMessage, newErrorId} from '../shared/error-id.js';
import {
  buildPipeline,
  checkQueryTypes,
  QueryRows,
  ReplicaSources,
  type RowPatch,
} from '../zql/index.js';

/**
 * The IVM pipelines of one client group, all kept at one replica version. A sync step runs in one
 * read transaction: advance every pipeline to the head, then hydrate the queries added since, so
 * that every query's rows come from the same snapshot. Work yields often (time slicing); a
 * schema change, a truncate, or a change list that no longer reaches back makes the step
 * rehydrate every pipeline instead (reported as `reset`).
 */
export interface QueryPatches {
  queryHash: string;
  patches: RowPatch[];
  /** True when the query was (re)hydrated: its patches are its whole result, not a diff. */
  hydrated: boolean;
}

export interface StepResult {
  version: LexiVersion;
  /** Row patches per query, for queries advanced or hydrated in this step. */
  queries: QueryPatches[];
  /** True when the pipelines were rebuilt (their patches are whole results, to diff against). */
  reset: boolean;
  /** Why they were rebuilt: the circuit breaker, a schema change, a change list that ran out. */
  resetReason?: string | undefined;
  /** Rows read from the replica in this step (hydration and advancement cost). */
  rowsRead: number;
  /**
   * Queries that could not be built or hydrated; they were not added. `message` is fit for the
   * client (it names tables, columns and types, never a row's value); `cause` is for the log.
   */
  failed: FailedQuery[];
}

export interface FailedQuery {
  queryHash: string;
  message: string;
  cause?: unknown;
}

/** A query to build: `checked` is the part its client wrote, checked against column types. */
interface PendingQuery {
  ast: AST;
  checked: AST | undefined;
}

const BREAKER_MIN_MS = 50;

interface Pipeline {
  ast: AST;
  rows: QueryRows;
}

export class PipelineDriver {
  readonly #db: ReplicaDb;
  #sources: ReplicaSources;
  readonly #pipelines = new Map<string, Pipeline>();
  readonly #pending = new Map<string, PendingQuery>();
  #version: LexiVersion | null = null;
  /** Rows read by sources that were since replaced (so the total never goes back). */
  #rowsReadBefore = 0;

  /** Time spent hydrating the current pipelines (the circuit breaker's budget). */
  #hydrationMs = 0;
  readonly #now: () => number;

  constructor(db: ReplicaDb, now: () => number = () => performance.now()) {
    this.#db = db;
    this.#sources = new ReplicaSources(db);
    this.#now = now;
  }

  get version(): LexiVersion | null {
    return this.#version;
  }

  /** Time spent hydrating the current pipelines, in ms. */
  get hydrationMs(): number {
    return this.#hydrationMs;
  }

  queries(): string[] {
    return [...this.#pipelines.keys(), ...this.#pending.keys()];
  }

  /**
   * Registers a query to hydrate at the next step. `checked` (the AST as the client or API server
   * wrote it, before the server added permission conditions) must pass checkQueryTypes first.
   */
  addQuery(queryHash: string, ast: AST, checked?: AST): void {
    if (this.#pipelines.has(queryHash)) return;
    this.#pending.set(queryHash, {ast, checked});
  }

  /** The AST a query runs (or will hydrate) with, as given to addQuery. */
  astOf(queryHash: string): AST | undefined {
    return (this.#pipelines.get(queryHash) ?? this.#pending.get(queryHash))?.ast;
  }

  removeQuery(queryHash: string): void {
    this.#pending.delete(queryHash);
    this.#pipelines.get(queryHash)?.rows.destroy();
    this.#pipelines.delete(queryHash);
  }

  /**
   * Moves the pipelines to `changes.head` without a read transaction when nothing since their
   * version can alter them (their results at the head equal those at their version). Returns
   * false when a step is needed instead: queries wait to hydrate, the changes do not reach back to
   * the pipelines' version, or some change may touch them.
   */
  skipUnaffected(changes: WindowedChanges | undefined): boolean {
    if (this.#version === null || this.#pending.size > 0 || !changes) return false;
    if (changes.head <= this.#version) return true;
    if (this.#sources.affectedBy(changes)) return false;
    this.#version = changes.head;
    return true;
  }

  /**
   * Advances to the replica head and hydrates pending queries; yields between slices of work.
   * `inSnapshot` runs before the read transaction closes (e.g. to read rows for catch-up at the
   * same version).
   */
  *step<T>(inSnapshot: (result: StepResult, sources: ReplicaSources) => T): Generator<void, T> {
    const readBefore = this.#rowsRead();
    return yield* this.#sources.transaction(
      function* (this: PipelineDriver) {
        const result: StepResult = {
          version: '',
          queries: [],
          reset: false,
          rowsRead: 0,
          failed: [],
        };
        if (this.#version !== null) {
          const adv = yield* this.#advanceOrBreak(this.#version);
          if (adv.kind === 'reset') {
            result.reset = true;
            result.resetReason = adv.reason;
            for (const [hash, p] of this.#pipelines)
              this.#pending.set(hash, {ast: p.ast, checked: undefined});
            this.#rebuildSources();
          } else {
            for (const [hash, p] of this.#pipelines) {
              const patches = p.rows.takeChanges();
              if (patches.length) result.queries.push({queryHash: hash, patches, hydrated: false});
            }
          }
        }
        result.version = this.#sources.read((v) => v);
        for (const [hash, pending] of this.#pending) {
          const started = this.#now();
          const rows = this.#build(hash, pending, result.failed);
          if (!rows) continue;
          try {
            yield* rows.hydrate();
          } catch (e) {
            // Thrown while reading rows: the error may quote one, so only an id reaches clients.
            rows.destroy();
            const message = internalErrorMessage('The query failed on the server', newErrorId());
            result.failed.push({queryHash: hash, message, cause: e});
            continue;
          }
          this.#hydrationMs += this.#now() - started;
          this.#pipelines.set(hash, {ast: pending.ast, rows});
          result.queries.push({queryHash: hash, patches: rows.takeChanges(), hydrated: true});
        }
        this.#pending.clear();
        this.#version = result.version;
        result.rowsRead = this.#rowsRead() - readBefore;
        return inSnapshot(result, this.#sources);
      }.bind(this),
    );
  }

  /** Checks and builds one pending query; a refusal goes to `failed` with its (row-free) reason. */
  #build(hash: string, pending: PendingQuery, failed: FailedQuery[]): QueryRows | undefined {
    try {
      if (pending.checked) checkQueryTypes(pending.checked, this.#sources);
      return new QueryRows(buildPipeline(pending.ast, this.#sources));
    } catch (e) {
      // Building reads no rows: its errors name only tables, columns, types and the AST.
      failed.push({queryHash: hash, message: (e as Error).message, cause: e});
      return undefined;
    }
  }

  /**
   * The circuit breaker (fact sheet §10.5): an advancement that has run longer than 50 ms and
   * longer than hydrating all the pipelines took is abandoned; the pipelines are then rebuilt and
   * rehydrated at the head, which the caller diffs against what clients have.
   */
  *#advanceOrBreak(from: string): Generator<void, {kind: 'changes' | 'reset'; reason?: string}> {
    const started = this.#now();
    const gen = this.#sources.advance(from);
    for (;;) {
      const r = gen.next();
      if (r.done) return r.value;
      const elapsed = this.#now() - started;
      if (elapsed > BREAKER_MIN_MS && elapsed > this.#hydrationMs) {
        gen.return(undefined as never);
        return {
          kind: 'reset',
          reason: `circuit breaker: advancing took ${Math.round(elapsed)} ms, more than hydrating`,
        };
      }
      yield;
    }
  }

  #rowsRead(): number {
    return this.#rowsReadBefore + this.#sources.rowsRead();
  }

  #rebuildSources(): void {
    this.#rowsReadBefore += this.#sources.rowsRead();
    this.#hydrationMs = 0;
    for (const p of this.#pipelines.values()) p.rows.destroy();
    this.#pipelines.clear();
    this.#sources = new ReplicaSources(this.#db);
  }

  /** Current row content (for catch-up), read inside the current step or a read of its own. */
  readRows<T>(fn: (sources: ReplicaSources) => T): T {
    return this.#sources.read(() => fn(this.#sources));
  }

  destroy(): void {
    for (const p of this.#pipelines.values()) p.rows.destroy();
    this.#pipelines.clear();
  }
}
