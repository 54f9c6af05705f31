import type {ColumnSpec} from '../protocol/change-stream.js';

/**
 * The declared type of a replica column: the upstream type name plus attributes, e.g. `int4|NOT_NULL`,
 * `mood|TEXT_ENUM`, `text[]|TEXT_ARRAY`. SQLite keeps declared types verbatim, so the replica alone
 * tells which ZQL value type each column has; no NOT NULL or PK constraints are declared (unique
 * indexes carry the keys).
 */
export interface LiteColumnType {
  upstreamType: string;
  notNull: boolean;
  isEnum: boolean;
  isArray: boolean;
}

export type ZqlValueType = 'number' | 'string' | 'boolean' | 'json';

export function liteTypeString(spec: ColumnSpec): string {
  const attrs: string[] = [];
  if (spec.notNull) attrs.push('NOT_NULL');
  if (spec.pgTypeClass === 'e') attrs.push('TEXT_ENUM');
  if (spec.dataType.endsWith('[]')) attrs.push('TEXT_ARRAY');
  return [spec.dataType, ...attrs].join('|');
}

export function parseLiteTypeString(s: string): LiteColumnType {
  const [upstreamType = '', ...attrs] = s.split('|');
  return {
    upstreamType,
    notNull: attrs.includes('NOT_NULL'),
    isEnum: attrs.includes('TEXT_ENUM'),
    isArray: attrs.includes('TEXT_ARRAY') || upstreamType.endsWith('[]'),
  };
}

const NUMBER_TYPES = new Set([
  'int2',
  'int4',
  'int8',
  'smallint',
  'integer',
  'bigint',
  'serial',
  'bigserial',
  'smallserial',
  'numeric',
  'decimal',
  'float4',
  'float8',
  'real',
  'double precision',
  'timestamp',
  'timestamptz',
  'date',
  'time',
]);
const STRING_TYPES = new Set([
  'text',
  'varchar',
  'bpchar',
  'char',
  'uuid',
  'character varying',
  'character',
]);

/** The upstream type's name without modifiers, lower case: `timestamp(3)` → `timestamp`. */
export function baseTypeName(t: LiteColumnType): string {
  return t.upstreamType
    .replace(/\(.*?\)/g, '')
    .trim()
    .toLowerCase();
}

/** The ZQL value type clients see for a column, or null when the column is not synced (§2.11). */
export function zqlValueType(t: LiteColumnType): ZqlValueType | null {
  if (t.isArray) return 'json';
  if (t.isEnum) return 'string';
  const base = baseTypeName(t);
  if (NUMBER_TYPES.has(base)) return 'number';
  if (STRING_TYPES.has(base)) return 'string';
  if (base === 'bool' || base === 'boolean') return 'boolean';
  if (base === 'json' || base === 'jsonb') return 'json';
  return null;
}
