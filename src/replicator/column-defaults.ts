import type {ColumnSpec} from '../protocol/change-stream.js';
import {decoderFor} from '../replication/pg-text-values.js';

/**
 * A SQLite DEFAULT clause for a column added upstream, so that existing replica rows take the value
 * Postgres gives existing rows. Only constant defaults (`42`, `'abc'::text`, `true`) translate;
 * anything else yields null (see schema-changes for what that means).
 */
export function columnDefault(spec: ColumnSpec): string | null {
  const d = spec.dflt?.trim();
  if (!d) return null;
  const m = /^(?:'((?:[^']|'')*)'|(-?\d+(?:\.\d+)?)|(true|false))(?:::[\w\s."[\]]+)?$/i.exec(d);
  if (!m) return null;
  const text =
    m[1] !== undefined
      ? m[1].replace(/''/g, "'")
      : (m[2] ?? (m[3]!.toLowerCase() === 'true' ? 't' : 'f'));
  const value = decoderFor(spec)(text);
  if (value === null) return null;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return `'${value.replace(/'/g, "''")}'`;
}
