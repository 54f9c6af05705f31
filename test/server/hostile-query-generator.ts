/**
 * Seeded random queries as a hostile client writes them, over the tables of the hostile-client
 * property test: wrong-typed literals and `start` rows, pathological LIKE patterns, deep and wide
 * trees, unknown tables and columns, relationships into tables the user may not read. Values come
 * from a fixed pool that shares nothing with the hidden rows' marker values, so a marker seen
 * downstream can only have come from a hidden row.
 */
type ColumnType = 'string' | 'number' | 'boolean' | 'json';
const TABLES: Record<string, Record<string, ColumnType>> = {
  loan: {
    id: 'string',
    userID: 'string',
    amount: 'number',
    note: 'string',
    meta: 'json',
    paid: 'boolean',
  },
  secret: {id: 'string', userID: 'string', code: 'number', note: 'string'},
  profile: {id: 'string', name: 'string', age: 'number'},
};
export const TABLE_COLUMNS: Record<string, string[]> = Object.fromEntries(
  Object.entries(TABLES).map(([t, cols]) => [t, Object.keys(cols)]),
);
const UNKNOWN = ['nope', 'password', '_0_version', ''];
const OPS = ['=', '!=', '<', '>', '<=', '>=', 'IS', 'IS NOT', 'LIKE', 'NOT LIKE', 'ILIKE'];
const TYPED_VALUES: Record<ColumnType, unknown[]> = {
  string: ['', 'x', 'a1', 'b1', 's1', 'alice', 'bob', '%', '\\'],
  number: [0, -1, 1.5, 30, 100, 1e308],
  boolean: [true, false],
  json: [0, 'x', true],
};
const VALUES: unknown[] = [null, ...Object.values(TYPED_VALUES).flat()];
const LIKE_PATTERNS = [
  '%a%a%a%a%a%a%a%a%b',
  '%_%_%_%_%_%_%_%_%_%_c',
  '%a%\n%a%',
  '%'.repeat(500) + 'b',
  '_'.repeat(3001),
  'a%',
  '%\\%%',
  'abc\\',
  'x'.repeat(5000),
];

export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  /** xorshift32: a fixed seed replays the same sequence. */
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function column(r: Rng, table: string): string {
  return r.chance(0.02) ? r.pick(UNKNOWN) : r.pick(TABLE_COLUMNS[table] ?? ['id']);
}

/** Mostly a value of the column's type (so most queries run), sometimes any value at all. */
function valueFor(r: Rng, table: string, col: string): unknown {
  const type = TABLES[table]?.[col];
  if (!type || r.chance(0.08)) return value(r);
  return r.chance(0.05) ? null : r.pick(TYPED_VALUES[type]);
}

/** A scalar literal (lists are valid only on the right of IN, and a message with one elsewhere is
 * refused whole, which the hostile-input test covers). */
function value(r: Rng): unknown {
  return r.pick(VALUES);
}

/** A `start` value: any JSON, json-typed columns included. */
function startValue(r: Rng): unknown {
  return r.chance(0.1) ? {k: r.pick(VALUES)} : r.chance(0.1) ? [r.pick(VALUES)] : value(r);
}

function simple(r: Rng, table: string): unknown {
  const op = r.chance(0.1) ? r.pick(['IN', 'NOT IN']) : r.pick(OPS);
  const col = column(r, table);
  let right: unknown;
  if (op === 'IN' || op === 'NOT IN') {
    const n = r.chance(0.01) ? 10_001 : r.int(5);
    right = Array.from({length: n}, () => valueFor(r, table, col) ?? 'x');
  } else if (op.includes('LIKE')) right = r.chance(0.7) ? r.pick(LIKE_PATTERNS) : value(r);
  else right = valueFor(r, table, col);
  const left = r.chance(0.01) ? {type: 'literal', value: value(r)} : {type: 'column', name: col};
  return {type: 'simple', op, left, right: {type: 'literal', value: right}};
}

function condition(r: Rng, table: string, depth: number): unknown {
  const roll = r.next();
  if (depth > 0 && roll < 0.25) {
    const n = r.chance(0.01) ? 2500 : 1 + r.int(3);
    return {
      type: r.pick(['and', 'or']),
      conditions: Array.from({length: n}, () => condition(r, table, n > 10 ? 0 : depth - 1)),
    };
  }
  if (depth > 0 && roll < 0.4) {
    const child = r.pick(Object.keys(TABLE_COLUMNS));
    return {
      type: 'correlatedSubquery',
      op: r.pick(['EXISTS', 'NOT EXISTS']),
      related: {
        correlation: {parentField: [column(r, table)], childField: [column(r, child)]},
        subquery: query(r, child, depth - 1, `zsubq_${r.int(1000)}`),
      },
    };
  }
  return simple(r, table);
}

function deepCondition(r: Rng, table: string): unknown {
  let c = simple(r, table);
  for (let i = 0, n = 30 + r.int(20); i < n; i++)
    c = {type: r.pick(['and', 'or']), conditions: [c]};
  return c;
}

export function query(
  r: Rng,
  table: string,
  depth: number,
  alias?: string,
): Record<string, unknown> {
  const ast: Record<string, unknown> = {table: r.chance(0.01) ? 'no_such_table' : table};
  if (alias) ast.alias = alias;
  if (r.chance(0.7))
    ast.where = r.chance(0.02) ? deepCondition(r, table) : condition(r, table, depth);
  if (r.chance(0.4)) ast.orderBy = [[column(r, table), r.pick(['asc', 'desc'])]];
  if (r.chance(0.3)) ast.limit = r.int(5);
  if (r.chance(0.15)) {
    const row: Record<string, unknown> = {};
    for (const c of TABLE_COLUMNS[table] ?? [])
      if (r.chance(0.6)) row[c] = r.chance(0.1) ? startValue(r) : valueFor(r, table, c);
    ast.start = {row, exclusive: r.chance(0.5)};
  }
  if (depth > 0 && r.chance(0.3)) {
    const n = r.chance(0.01) ? 2500 : 1 + r.int(2);
    ast.related = Array.from({length: n}, (_, i) => {
      const child = r.pick(Object.keys(TABLE_COLUMNS));
      return {
        correlation: {parentField: [column(r, table)], childField: [column(r, child)]},
        subquery: query(r, child, n > 10 ? 0 : depth - 1, `r${i}`),
      };
    });
  }
  return ast;
}

/** One random root query. */
export function hostileQuery(r: Rng): Record<string, unknown> {
  return query(r, r.pick(Object.keys(TABLE_COLUMNS)), 2);
}
