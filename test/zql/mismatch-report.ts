import {isDeepStrictEqual} from 'node:util';
import type {FuzzCase, FuzzChange, FuzzSchema, Row, TableData} from './fuzz-schema.js';
import type {ViewNode} from './sql-oracle.js';

/**
 * Human-readable reports of a difference between the engine and the oracle: everything needed to
 * understand one failing step without re-running it.
 */
export interface MismatchContext {
  engine: string;
  stage: string;
  testCase: FuzzCase;
  dataBefore: TableData;
  transaction: FuzzChange[] | null;
}

export function describeSchema(schema: FuzzSchema): string {
  return schema.tables
    .map((t) => {
      const cols = t.columns.map((c) => {
        const pk = t.primaryKey.includes(c.name) ? ' PK' : '';
        return `${c.name} ${c.type}${c.nullable ? '?' : ''}${pk}`;
      });
      return `  ${t.name}(${cols.join(', ')})`;
    })
    .join('\n');
}

function describeData(data: TableData): string {
  return Object.entries(data)
    .map(([name, rows]) =>
      rows.length
        ? `  ${name}:` + rows.map((r) => `\n    ${JSON.stringify(r)}`).join('')
        : `  ${name}: (empty)`,
    )
    .join('\n');
}

/** The path and values of the first place where two JSON-like values differ. */
export function firstDifference(expected: unknown, actual: unknown, path = '$'): string | null {
  if (isDeepStrictEqual(expected, actual)) return null;
  if (Array.isArray(expected) && Array.isArray(actual)) {
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
      if (i >= expected.length) return `${path}[${i}]: unexpected ${JSON.stringify(actual[i])}`;
      if (i >= actual.length) return `${path}[${i}]: missing ${JSON.stringify(expected[i])}`;
      const d = firstDifference(expected[i], actual[i], `${path}[${i}]`);
      if (d) return d;
    }
  }
  if (isObject(expected) && isObject(actual)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const k of keys) {
      const d = firstDifference(expected[k], actual[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return `${path}: expected ${JSON.stringify(expected)}, actual ${JSON.stringify(actual)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function viewMismatch(expected: ViewNode[], actual: ViewNode[]): string | null {
  const d = firstDifference(expected, actual);
  if (!d) return null;
  return [
    `view differs (first difference at ${d})`,
    `  expected: ${JSON.stringify(expected)}`,
    `  actual:   ${JSON.stringify(actual)}`,
  ].join('\n');
}

export function syncedMismatch(
  expected: Map<string, Row>,
  actual: Map<string, Row>,
): string | null {
  const lines: string[] = [];
  for (const [key, row] of expected) {
    if (!actual.has(key)) lines.push(`  missing ${key}: ${JSON.stringify(row)}`);
    else if (!isDeepStrictEqual(row, actual.get(key))) {
      lines.push(
        `  differs ${key}: expected ${JSON.stringify(row)}, actual ${JSON.stringify(actual.get(key))}`,
      );
    }
  }
  for (const [key, row] of actual) {
    if (!expected.has(key)) lines.push(`  extra ${key}: ${JSON.stringify(row)}`);
  }
  return lines.length ? `synced rows differ:\n${lines.join('\n')}` : null;
}

export function mismatchReport(ctx: MismatchContext, differences: string[]): string {
  return [
    `ZQL differential mismatch ${ctx.stage} (engine: ${ctx.engine})`,
    `schema:\n${describeSchema(ctx.testCase.schema)}`,
    `ast: ${JSON.stringify(ctx.testCase.ast)}`,
    `data before:\n${describeData(ctx.dataBefore)}`,
    `transaction: ${ctx.transaction ? JSON.stringify(ctx.transaction) : '(none: hydration)'}`,
    ...differences,
  ].join('\n');
}
