import type Database from 'better-sqlite3';
import type {AST, Condition, CorrelatedSubquery} from '../../src/protocol/ast.js';
import {likeMatches} from './like-matcher.js';
import {
  completeOrdering,
  conditionSql,
  correlationSql,
  fromSqliteValue,
  ident,
  LIKE_FUNCTION,
  orderBySql,
  SqlBuilder,
  startSql,
} from './oracle-sql.js';
import {syncedRowKey, tableOf, type FuzzSchema, type FuzzTable, type Row} from './fuzz-schema.js';

/**
 * The independent evaluator of the differential fuzzer: every level of the result tree is one SQL
 * query (WHERE with correlated EXISTS, completed ORDER BY, LIMIT), run per parent row for
 * subqueries. It shares no code with src/zql.
 *
 * `view`: root rows in order, each with one entry per `related` alias (hidden junctions are a level
 * like any other). `synced`: every row of the tree, plus for each row of the tree and each
 * EXISTS / NOT EXISTS subquery anywhere in its level's WHERE, the first 3 matching children in the
 * subquery's order and, recursively, everything those children sync (§2.10). Subqueries with
 * `system: 'permissions'` are never synced.
 */
export interface ViewNode {
  row: Row;
  relationships: Record<string, ViewNode[]>;
}

export interface QueryResult {
  view: ViewNode[];
  synced: Map<string, Row>;
}

/** How many children per parent a condition (EXISTS) subquery syncs. */
export const EXISTS_SYNC_LIMIT = 3;

interface OracleNode {
  table: FuzzTable;
  row: Row;
  related: {subquery: CorrelatedSubquery; nodes: OracleNode[]}[];
  conditionChildren: {subquery: CorrelatedSubquery; nodes: OracleNode[]}[];
}

interface OracleContext {
  db: Database.Database;
  schema: FuzzSchema;
}

interface ParentLink {
  subquery: CorrelatedSubquery;
  parent: Row;
}

export function evaluateQuery(db: Database.Database, schema: FuzzSchema, ast: AST): QueryResult {
  registerLikeFunction(db);
  const ctx: OracleContext = {db, schema};
  const nodes = buildNodes(ctx, ast, fetchRows(ctx, ast, undefined, ast.limit));
  const synced = new Map<string, Row>();
  collectSynced(nodes, synced);
  return {view: toView(nodes), synced};
}

const registeredDbs = new WeakSet<Database.Database>();
const statementCaches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function prepareCached(db: Database.Database, sql: string): Database.Statement {
  let cache = statementCaches.get(db);
  if (!cache) statementCaches.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

function registerLikeFunction(db: Database.Database): void {
  if (registeredDbs.has(db)) return;
  db.function(LIKE_FUNCTION, {deterministic: true}, (value, pattern, caseInsensitive) => {
    if (typeof value !== 'string' || typeof pattern !== 'string') {
      throw new Error(`oracle: LIKE needs text operands, got ${typeof value} / ${typeof pattern}`);
    }
    return likeMatches(value, pattern, caseInsensitive === 1) ? 1 : 0;
  });
  registeredDbs.add(db);
}

/** Rows of one level: for a subquery, only the children of `link.parent`. */
function fetchRows(
  ctx: OracleContext,
  ast: AST,
  link: ParentLink | undefined,
  limit: number | undefined,
): Row[] {
  const table = tableOf(ctx.schema, ast.table);
  const b = new SqlBuilder();
  const alias = b.nextAlias();
  const clauses: string[] = [];
  if (link) {
    const {parentField, childField} = link.subquery.correlation;
    if (parentField.some((f) => link.parent[f] === null)) return []; // NULL keys never join
    clauses.push(correlationSql(alias, childField, parentField, (f) => b.bind(link.parent[f]!)));
  }
  if (ast.where) clauses.push(conditionSql(b, ctx.schema, table, alias, ast.where));
  const ordering = completeOrdering(table, ast.orderBy);
  if (ast.start) {
    if (link) throw new Error('oracle: `start` is only supported on the root query');
    clauses.push(startSql(b, table, alias, ordering, ast.start));
  }
  const columns = table.columns.map((c) => `${alias}.${ident(c.name)}`).join(', ');
  let sql = `SELECT ${columns} FROM ${ident(table.name)} AS ${alias}`;
  sql += ` WHERE ${clauses.length ? clauses.join(' AND ') : '1'}`;
  sql += ` ORDER BY ${orderBySql(alias, ordering)}`;
  if (limit !== undefined) sql += ` LIMIT ${b.bind(limit)}`;
  const raw = prepareCached(ctx.db, sql).all(...b.params) as Record<string, unknown>[];
  return raw.map((r) => toClientRow(table, r));
}

function toClientRow(table: FuzzTable, raw: Record<string, unknown>): Row {
  const row: Row = {};
  for (const c of table.columns) row[c.name] = fromSqliteValue(c, raw[c.name]);
  return row;
}

function buildNodes(ctx: OracleContext, ast: AST, rows: Row[]): OracleNode[] {
  const table = tableOf(ctx.schema, ast.table);
  const conditionSubqueries = subqueriesOfCondition(ast.where).filter(
    (sq) => sq.subquery.limit !== 0, // short-circuited: no join, nothing synced
  );
  return rows.map((row) => ({
    table,
    row,
    related: (ast.related ?? []).map((subquery) => ({
      subquery,
      nodes: childNodes(ctx, {subquery, parent: row}, subquery.subquery.limit),
    })),
    conditionChildren: conditionSubqueries.map((subquery) => ({
      subquery,
      nodes: childNodes(ctx, {subquery, parent: row}, EXISTS_SYNC_LIMIT),
    })),
  }));
}

function childNodes(ctx: OracleContext, link: ParentLink, limit: number | undefined) {
  const ast = link.subquery.subquery;
  return buildNodes(ctx, ast, fetchRows(ctx, ast, link, limit));
}

/** Every EXISTS / NOT EXISTS subquery of one level's WHERE (not those nested in subqueries). */
function subqueriesOfCondition(cond: Condition | undefined): CorrelatedSubquery[] {
  if (!cond || cond.type === 'simple') return [];
  if (cond.type === 'correlatedSubquery') return [cond.related];
  return cond.conditions.flatMap((c) => subqueriesOfCondition(c));
}

function toView(nodes: OracleNode[]): ViewNode[] {
  return nodes.map((n) => {
    const relationships: Record<string, ViewNode[]> = {};
    for (const {subquery, nodes: children} of n.related) {
      relationships[subquery.subquery.alias ?? ''] = toView(children);
    }
    return {row: n.row, relationships};
  });
}

function collectSynced(nodes: OracleNode[], synced: Map<string, Row>): void {
  for (const n of nodes) {
    synced.set(syncedRowKey(n.table, n.row), n.row);
    for (const {subquery, nodes: children} of [...n.related, ...n.conditionChildren]) {
      if (subquery.system !== 'permissions') collectSynced(children, synced);
    }
  }
}
