import type {SimpleCondition} from '../../protocol/ast.js';
import type {ZqlValueType} from '../../replica/column-types.js';
import {ident} from '../../replica/names.js';
import type {ReplicaDb} from '../../replica/replica-file.js';
import {makeComparator, rowKeyString, type Node, type Ordering, type Row} from '../ivm/data.js';
import {
  NO_OUTPUT,
  PAUSE,
  type FetchRequest,
  type Input,
  type Output,
  type SourceSchema,
} from '../ivm/operator.js';
import {simplePredicate, type RowPredicate} from '../ivm/predicate.js';
import {filterSql} from './filter-sql.js';
import {startBoundSql} from './start-bound-sql.js';
import {
  decodeRow,
  encodeValue,
  UnrepresentableValueError,
  readTableColumns,
  selectColumnsSql,
  type TableColumns,
} from './row-decoding.js';
import {RowOverlay, type RowChangeForPush} from './row-overlay.js';
import type {StatementPool} from './statement-pool.js';

/**
 * A replica table as an IVM source. Each pipeline that reads the table connects with its ordering
 * and the conditions SQLite can evaluate; `fetch` runs SQL against the connection's current read
 * transaction. During an advancement the overlay makes each connection see rows as of the change
 * it has been pushed (see RowOverlay); `push` sends a changed row to the connections, in order.
 */
export class TableSource {
  readonly table: string;
  readonly primaryKey: readonly string[];
  readonly #db: ReplicaDb;
  readonly #statements: StatementPool;
  readonly #columns: TableColumns;
  readonly #connections: SourceConnection[] = [];
  readonly overlay: RowOverlay;
  /** Rows read from SQLite, for cost accounting (hydration size, circuit breaker). */
  rowsRead = 0;
  /** Rows skipped because they hold a value no client can hold (see decode). */
  unrepresentableRows = 0;

  constructor(
    db: ReplicaDb,
    statements: StatementPool,
    table: string,
    primaryKey: readonly string[],
  ) {
    this.#db = db;
    this.#statements = statements;
    this.table = table;
    this.primaryKey = primaryKey;
    this.#columns = readTableColumns(db, table);
    for (const k of primaryKey) {
      if (!this.#columns.types.has(k))
        throw new Error(`zql: primary key column ${table}.${k} is not a synced column`);
    }
    this.overlay = new RowOverlay(primaryKey);
  }

  get columns(): ReadonlyMap<string, ZqlValueType> {
    return this.#columns.types;
  }

  connect(sort: Ordering, filters: SimpleCondition[] = []): Input {
    const c = new SourceConnection(this, this.#connections.length, sort, filters);
    this.#connections.push(c);
    return c;
  }

  disconnect(c: SourceConnection): void {
    const i = this.#connections.indexOf(c);
    if (i >= 0) this.#connections.splice(i, 1);
    this.#connections.forEach((conn, j) => (conn.index = j));
  }

  /**
   * Whether a row in this state could be seen by any pipeline reading the table: it passes the
   * conditions pushed into some connection. False means a change between states that all fail
   * cannot change any pipeline's result.
   */
  mayMatch(raw: Record<string, unknown>): boolean {
    if (this.#connections.length === 0) return false;
    if (this.#connections.some((c) => c.unfiltered)) return true;
    const row = this.decode(raw);
    return row !== null && this.#connections.some((c) => c.passes(row));
  }

  /**
   * A raw replica row or row image → client row; null for a row holding a value no client can
   * hold (UnrepresentableValueError). Such a row is invisible to every pipeline — in fetches and
   * in pushes alike, so views stay consistent — rather than failing every query that reads the
   * table: one user's out-of-range value must not stop other users' views.
   */
  decode(raw: Record<string, unknown>): Row | null {
    try {
      return decodeRow(raw, this.#columns, this.table);
    } catch (e) {
      if (e instanceof UnrepresentableValueError) {
        this.unrepresentableRows++;
        return null;
      }
      throw e;
    }
  }

  /** Pushes one changed row: its removal (if it existed) then its addition (if it exists now). */
  push(change: RowChangeForPush): void {
    this.overlay.beginPush(change);
    if (change.old) {
      for (const c of this.#connections) {
        this.overlay.stage('remove', c.index);
        c.pushRow('remove', change.old);
      }
    }
    if (change.new) {
      for (const c of this.#connections) {
        this.overlay.stage('add', c.index);
        c.pushRow('add', change.new);
      }
    }
    this.overlay.endPush(change);
  }

  *query(sql: string, params: unknown[]): Iterable<Row> {
    const stmt = this.#statements.get(sql, this.#columns.hasInt8);
    for (const raw of stmt.iterate(params) as Iterable<Record<string, unknown>>) {
      this.rowsRead++;
      const row = this.decode(raw);
      if (row) yield row;
    }
  }

  selectSql(where: string[], order: Ordering, reverse: boolean): string {
    const dir = (d: string) => ((d === 'asc') !== reverse ? 'ASC' : 'DESC');
    return (
      `SELECT ${selectColumnsSql(this.#columns)} FROM ${ident(this.table)}` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY ${order.map(([c, d]) => `${ident(c)} ${dir(d)}`).join(', ')}`
    );
  }

  get db(): ReplicaDb {
    return this.#db;
  }
}

class SourceConnection implements Input {
  index: number;
  readonly #source: TableSource;
  readonly #schema: SourceSchema;
  readonly #filter: ReturnType<typeof filterSql>;
  readonly #predicates: RowPredicate[];
  #output: Output = NO_OUTPUT;

  constructor(source: TableSource, index: number, sort: Ordering, filters: SimpleCondition[]) {
    this.#source = source;
    this.index = index;
    this.#filter = filterSql(filters);
    this.#predicates = filters.map(simplePredicate);
    this.#schema = {
      tableName: source.table,
      primaryKey: source.primaryKey,
      sort,
      compareRows: makeComparator(sort),
      relationships: {},
      isHidden: false,
    };
  }

  getSchema(): SourceSchema {
    return this.#schema;
  }

  setOutput(output: Output): void {
    this.#output = output;
  }

  destroy(): void {
    this.#source.disconnect(this);
  }

  get unfiltered(): boolean {
    return this.#predicates.length === 0;
  }

  passes(row: Row): boolean {
    return this.#predicates.every((p) => p(row));
  }

  pushRow(type: 'add' | 'remove', row: Row): void {
    if (!this.passes(row)) return;
    this.#output.push({type, node: {row, relationships: {}}}, this);
  }

  *fetch(req: FetchRequest): Iterable<Node> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [col, v] of Object.entries(req.constraint ?? {})) {
      if (v === null || v === undefined) return; // null matches nothing
      where.push(`${ident(col)} = ?`);
      params.push(encodeValue(v));
    }
    if (this.#filter.sql) {
      where.push(this.#filter.sql);
      params.push(...this.#filter.params);
    }
    if (req.start) {
      const bound = startBoundSql(this.#schema.sort, req.start, req.reverse ?? false);
      where.push(bound.sql);
      params.push(...bound.params);
    }
    const sql = this.#source.selectSql(where, this.#schema.sort, req.reverse ?? false);
    const rows = this.#source.overlay.apply(this.#source.query(sql, params), this.index, {
      matches: (row) =>
        Object.entries(req.constraint ?? {}).every(([c, v]) => row[c] === v) &&
        this.#predicates.every((p) => p(row)),
      compare: this.#schema.compareRows,
      reverse: req.reverse ?? false,
    });
    const nodes = startAt(rows, req, this.#schema.compareRows);
    yield* req.pauses ? withPauses(nodes) : nodes;
  }
}

/** Rows between PAUSE markers in a stream that takes them. */
const ROWS_PER_PAUSE = 64;

function* withPauses(nodes: Iterable<Node>): Iterable<Node> {
  let n = 0;
  for (const node of nodes) {
    yield node;
    if (++n % ROWS_PER_PAUSE === 0) yield PAUSE;
  }
}

function* startAt(
  rows: Iterable<Row>,
  req: FetchRequest,
  cmp: (a: Row, b: Row) => number,
): Iterable<Node> {
  const start = req.start;
  let started = !start;
  for (const row of rows) {
    if (!started) {
      const c = cmp(row, start!.row) * (req.reverse ? -1 : 1);
      started = start!.basis === 'at' ? c >= 0 : c > 0;
      if (!started) continue;
    }
    yield {row, relationships: {}};
  }
}

export {rowKeyString};
