import type {AST, Condition} from '../../src/protocol/ast.js';
import {
  applyChangeToData,
  cloneData,
  tableOf,
  type FuzzCase,
  type FuzzChange,
  type FuzzSchema,
  type Row,
} from './fuzz-schema.js';

/**
 * A second shrinking pass over a failing case, after fast-check's: fast-check cannot shrink the
 * schema (everything else is generated from it), so this drops tables and columns the AST does
 * not use, then transactions, changes and initial rows, keeping each removal only if the case
 * still fails and stays consistent (no update of a missing row, no duplicate key).
 */
export function minimizeCase(failing: FuzzCase, fails: (c: FuzzCase) => boolean): FuzzCase {
  let current = failing;
  const attempt = (candidate: FuzzCase): boolean => {
    if (!isConsistent(candidate) || !fails(candidate)) return false;
    current = candidate;
    return true;
  };
  for (let progress = true; progress;) {
    progress = false;
    const used = columnsUsedByAst(current.schema, current.ast);
    for (const t of current.schema.tables) {
      if (!used.has(t.name)) progress = attempt(withoutTable(current, t.name)) || progress;
    }
    for (const t of current.schema.tables) {
      for (const col of t.columns) {
        if (t.primaryKey.includes(col.name) || used.get(t.name)?.has(col.name)) continue;
        progress = attempt(withoutColumn(current, t.name, col.name)) || progress;
      }
    }
    for (let i = current.transactions.length - 1; i >= 0; i--) {
      const transactions = current.transactions.filter((_, j) => j !== i);
      progress = attempt({...current, transactions}) || progress;
    }
    progress = minimizeChanges(current, attempt) || progress;
    progress = minimizeRows(current, attempt) || progress;
  }
  return current;
}

function minimizeChanges(start: FuzzCase, attempt: (c: FuzzCase) => boolean): boolean {
  let progress = false;
  let current = start;
  for (let i = current.transactions.length - 1; i >= 0; i--) {
    for (let j = (current.transactions[i]?.length ?? 0) - 1; j >= 0; j--) {
      const transactions = current.transactions.map((tx, k) =>
        k === i ? tx.filter((_, m) => m !== j) : tx,
      );
      const candidate = {...current, transactions: transactions.filter((tx) => tx.length)};
      if (attempt(candidate)) {
        current = candidate;
        progress = true;
      }
    }
  }
  return progress;
}

function minimizeRows(start: FuzzCase, attempt: (c: FuzzCase) => boolean): boolean {
  let progress = false;
  let current = start;
  for (const name of Object.keys(current.data)) {
    for (let i = (current.data[name]?.length ?? 0) - 1; i >= 0; i--) {
      const data = {...current.data, [name]: current.data[name]!.filter((_, j) => j !== i)};
      const candidate = {...current, data};
      if (attempt(candidate)) {
        current = candidate;
        progress = true;
      }
    }
  }
  return progress;
}

/** Table name → columns the AST reads there (where, orderBy, correlations). */
export function columnsUsedByAst(schema: FuzzSchema, ast: AST): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const use = (table: string, columns: readonly string[]) => {
    let set = used.get(table);
    if (!set) used.set(table, (set = new Set()));
    for (const c of columns) set.add(c);
  };
  const visitCondition = (table: string, cond: Condition): void => {
    if (cond.type === 'simple') {
      if (cond.left.type === 'column') use(table, [cond.left.name]);
    } else if (cond.type === 'correlatedSubquery') {
      use(table, cond.related.correlation.parentField);
      use(cond.related.subquery.table, cond.related.correlation.childField);
      visitAst(cond.related.subquery);
    } else cond.conditions.forEach((c) => visitCondition(table, c));
  };
  const visitAst = (node: AST): void => {
    tableOf(schema, node.table);
    use(
      node.table,
      (node.orderBy ?? []).map(([c]) => c),
    );
    if (node.where) visitCondition(node.table, node.where);
    for (const sq of node.related ?? []) {
      use(node.table, sq.correlation.parentField);
      use(sq.subquery.table, sq.correlation.childField);
      visitAst(sq.subquery);
    }
  };
  visitAst(ast);
  return used;
}

function withoutTable(c: FuzzCase, name: string): FuzzCase {
  const {[name]: _dropped, ...data} = c.data;
  return {
    schema: {tables: c.schema.tables.filter((t) => t.name !== name)},
    data,
    ast: c.ast,
    transactions: c.transactions
      .map((tx) => tx.filter((change) => change.table !== name))
      .filter((tx) => tx.length),
  };
}

function withoutColumn(c: FuzzCase, tableName: string, column: string): FuzzCase {
  const strip = (row: Row): Row => {
    const {[column]: _dropped, ...rest} = row;
    return rest;
  };
  const stripChange = (change: FuzzChange): FuzzChange => {
    if (change.table !== tableName || change.op === 'delete') return change;
    return {...change, row: strip(change.row)};
  };
  const start = c.ast.start && c.ast.table === tableName ? c.ast.start : undefined;
  return {
    schema: {
      tables: c.schema.tables.map((t) =>
        t.name === tableName ? {...t, columns: t.columns.filter((col) => col.name !== column)} : t,
      ),
    },
    data: {...c.data, [tableName]: (c.data[tableName] ?? []).map(strip)},
    ast: start ? {...c.ast, start: {...start, row: strip(start.row as Row)}} : c.ast,
    transactions: c.transactions.map((tx) => tx.map(stripChange)),
  };
}

/** Replays the changes on a model of the data; false if one makes no sense upstream. */
export function isConsistent(c: FuzzCase): boolean {
  const data = cloneData(c.data);
  try {
    for (const change of c.transactions.flat()) {
      const table = tableOf(c.schema, change.table);
      const rows = data[change.table] ?? [];
      const keyOf = (r: Row) => JSON.stringify(table.primaryKey.map((k) => r[k]));
      if (change.op === 'insert' && rows.some((r) => keyOf(r) === keyOf(change.row))) return false;
      applyChangeToData(c.schema, data, change);
    }
    return true;
  } catch {
    return false;
  }
}
