import {parse as parseArrayLiteral} from 'postgres-array';
import type {ColumnSpec, LiteValue} from '../protocol/change-stream.js';

/**
 * Postgres text output (as sent by COPY ... TO STDOUT and by pgoutput) → replica values.
 * The replication and COPY sessions run with TimeZone=UTC and DateStyle=ISO, so dates and times
 * arrive in ISO form with a `+00` offset.
 *
 * Mapping (fact sheet §2.11): integers and floats → number (int8 beyond 2^53 → bigint, exact),
 * numeric → number, bool → 1/0, timestamps → epoch ms (float, µs kept), date → epoch ms of UTC
 * midnight, time → ms since midnight, json/jsonb → the JSON text, arrays → JSON text of the array,
 * text-like, uuid and enums → string. Any other type keeps its text form (the column is not synced).
 */
export type TextDecoder = (text: string) => LiteValue;

export function decoderFor(spec: Pick<ColumnSpec, 'dataType' | 'pgTypeClass'>): TextDecoder {
  const type = baseTypeName(spec.dataType);
  if (type.endsWith('[]')) {
    const elem = elementDecoder(type.slice(0, -2));
    return (text) => JSON.stringify(parseArrayLiteral(text, elem));
  }
  return SCALAR_DECODERS[type] ?? identity;
}

/** `varchar(20)` → `varchar`, `character varying` → `varchar`; arrays keep their `[]`. */
export function baseTypeName(dataType: string): string {
  const t = dataType
    .replace(/\(.*?\)/g, '')
    .trim()
    .toLowerCase();
  return TYPE_ALIASES[t] ?? t;
}

const TYPE_ALIASES: Record<string, string> = {
  smallint: 'int2',
  integer: 'int4',
  int: 'int4',
  bigint: 'int8',
  real: 'float4',
  'double precision': 'float8',
  boolean: 'bool',
  'character varying': 'varchar',
  character: 'bpchar',
  char: 'bpchar',
  decimal: 'numeric',
  'timestamp without time zone': 'timestamp',
  'timestamp with time zone': 'timestamptz',
  'time without time zone': 'time',
};

const identity: TextDecoder = (t) => t;

function decodeInt(text: string): number {
  return Number(text);
}

function decodeInt8(text: string): number | bigint {
  const n = BigInt(text);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(n)
    : n;
}

function decodeFloat(text: string): number {
  return Number(text); // 'NaN', 'Infinity', '-Infinity' included
}

function decodeBool(text: string): number {
  if (text === 't') return 1;
  if (text === 'f') return 0;
  throw new Error(`pg-text: bool value must be t or f, got "${text}"`);
}

const DATE_RE = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/;
const TIMESTAMP_RE =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;
const TIME_RE = /^(\d\d):(\d\d):(\d\d)(\.\d+)?$/;

function utcMs(year: number, month: number, day: number, h = 0, m = 0, s = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(h, m, s, 0);
  return d.getTime();
}

function fractionMs(frac: string | undefined): number {
  return frac ? Number(frac) * 1000 : 0;
}

function decodeTimestamp(text: string): number {
  if (text === 'infinity') return Infinity;
  if (text === '-infinity') return -Infinity;
  const m = TIMESTAMP_RE.exec(text);
  if (!m) throw new Error(`pg-text: malformed timestamp "${text}" (expected ISO DateStyle)`);
  let year = Number(m[1]);
  if (m[12]) year = 1 - year;
  const base = utcMs(year, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  let offsetMs = 0;
  if (m[8]) {
    const sign = m[8] === '-' ? -1 : 1;
    offsetMs = sign * ((Number(m[9]) * 60 + Number(m[10] ?? 0)) * 60 + Number(m[11] ?? 0)) * 1000;
  }
  return base - offsetMs + fractionMs(m[7]);
}

function decodeDate(text: string): number {
  if (text === 'infinity') return Infinity;
  if (text === '-infinity') return -Infinity;
  const m = DATE_RE.exec(text);
  if (!m) throw new Error(`pg-text: malformed date "${text}" (expected ISO DateStyle)`);
  const year = m[4] ? 1 - Number(m[1]) : Number(m[1]);
  return utcMs(year, Number(m[2]), Number(m[3]));
}

function decodeTime(text: string): number {
  const m = TIME_RE.exec(text);
  if (!m) throw new Error(`pg-text: malformed time "${text}"`);
  const ms = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
  return Math.floor(ms + fractionMs(m[4]));
}

const SCALAR_DECODERS: Record<string, TextDecoder> = {
  int2: decodeInt,
  int4: decodeInt,
  int8: decodeInt8,
  oid: decodeInt,
  float4: decodeFloat,
  float8: decodeFloat,
  numeric: decodeFloat,
  bool: decodeBool,
  timestamp: decodeTimestamp,
  timestamptz: decodeTimestamp,
  date: decodeDate,
  time: decodeTime,
};

type JSONValue = string | number | boolean | null | JSONValue[] | {[k: string]: JSONValue};

/** Array elements become JSON values: booleans stay booleans, json elements are parsed. */
function elementDecoder(elemType: string): (text: string) => JSONValue {
  if (elemType === 'bool') return (t) => decodeBool(t) === 1;
  if (elemType === 'json' || elemType === 'jsonb') return (t) => JSON.parse(t) as JSONValue;
  if (elemType === 'int8') {
    return (t) => {
      const v = decodeInt8(t);
      if (typeof v === 'bigint') throw new Error(`pg-text: int8 array element ${t} exceeds 2^53`);
      return v;
    };
  }
  const scalar = SCALAR_DECODERS[elemType];
  return scalar ? (t) => scalar(t) as number : (t) => t;
}
