/**
 * Decoding of pgoutput logical replication messages (protocol version 1, plus logical decoding
 * messages) and of the streaming replication CopyData frames that carry them.
 */

import {ByteReader} from './byte-reader.js';

/** A column value that the update did not change and that Postgres did not resend (TOASTed). */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

/** One column of a tuple: NULL, unchanged TOAST, or the value in Postgres text format. */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

/** Column values in the order of the relation's columns. */
export type TupleData = TupleValue[];

export type ReplicaIdentity = 'd' | 'n' | 'f' | 'i';

export interface PgBegin {
  tag: 'begin';
  finalLsn: bigint;
  /** Microseconds since 2000-01-01 00:00 UTC. */
  commitTime: bigint;
  xid: number;
}

export interface PgCommit {
  tag: 'commit';
  flags: number;
  commitLsn: bigint;
  endLsn: bigint;
  /** Microseconds since 2000-01-01 00:00 UTC. */
  commitTime: bigint;
}

export interface PgOrigin {
  tag: 'origin';
  originLsn: bigint;
  originName: string;
}

export interface PgRelationColumn {
  flags: number;
  /** Bit 1 of flags: the column is part of the replica identity key. */
  isKey: boolean;
  name: string;
  typeOid: number;
  typeMod: number;
}

export interface PgRelation {
  tag: 'relation';
  relationOid: number;
  /** Empty for pg_catalog. */
  schema: string;
  name: string;
  replicaIdentity: ReplicaIdentity;
  columns: PgRelationColumn[];
}

export interface PgType {
  tag: 'type';
  typeOid: number;
  schema: string;
  name: string;
}

export interface PgInsert {
  tag: 'insert';
  relationOid: number;
  new: TupleData;
}

export interface PgUpdate {
  tag: 'update';
  relationOid: number;
  /** The old key ('K'): sent when a key column changed and the identity is DEFAULT or INDEX. */
  key: TupleData | null;
  /** The old row ('O'): sent when the identity is FULL. */
  old: TupleData | null;
  new: TupleData;
}

export interface PgDelete {
  tag: 'delete';
  relationOid: number;
  /** Exactly one of key ('K') and old ('O') is set. */
  key: TupleData | null;
  old: TupleData | null;
}

export interface PgTruncate {
  tag: 'truncate';
  cascade: boolean;
  restartIdentity: boolean;
  relationOids: number[];
}

export interface PgMessage {
  tag: 'message';
  transactional: boolean;
  lsn: bigint;
  prefix: string;
  content: Buffer;
}

export type PgoutputMessage =
  | PgBegin
  | PgCommit
  | PgOrigin
  | PgRelation
  | PgType
  | PgInsert
  | PgUpdate
  | PgDelete
  | PgTruncate
  | PgMessage;

/** Decodes one pgoutput message (the payload of an XLogData frame). */
export function decodePgoutput(buf: Buffer): PgoutputMessage {
  if (buf.length === 0) throw new Error('pgoutput: empty message');
  const type = String.fromCharCode(buf[0]!);
  const r = new ByteReader(buf, `pgoutput '${type}' message`);
  r.u8();
  const msg = decodeBody(type, r);
  r.end();
  return msg;
}

function decodeBody(type: string, r: ByteReader): PgoutputMessage {
  switch (type) {
    case 'B':
      return {tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32()};
    case 'C':
      return {
        tag: 'commit',
        flags: r.u8(),
        commitLsn: r.u64(),
        endLsn: r.u64(),
        commitTime: r.i64(),
      };
    case 'O':
      return {tag: 'origin', originLsn: r.u64(), originName: r.cstring()};
    case 'R':
      return decodeRelation(r);
    case 'Y':
      return {tag: 'type', typeOid: r.u32(), schema: r.cstring(), name: r.cstring()};
    case 'I':
      return decodeInsert(r);
    case 'U':
      return decodeUpdate(r);
    case 'D':
      return decodeDelete(r);
    case 'T':
      return decodeTruncate(r);
    case 'M':
      return decodeMessage(r);
    default:
      throw new Error(
        `pgoutput: unknown message type byte 0x${type.charCodeAt(0).toString(16).padStart(2, '0')} ` +
          `('${type}'); only protocol version 1 messages are supported`,
      );
  }
}

const REPLICA_IDENTITIES: ReadonlySet<string> = new Set(['d', 'n', 'f', 'i']);

function decodeRelation(r: ByteReader): PgRelation {
  const relationOid = r.u32();
  const schema = r.cstring();
  const name = r.cstring();
  const identity = r.char();
  if (!REPLICA_IDENTITIES.has(identity)) {
    throw r.error(`unknown replica identity '${identity}' for ${schema}.${name}`);
  }
  const count = r.i16();
  const columns: PgRelationColumn[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    columns.push({
      flags,
      isKey: (flags & 1) !== 0,
      name: r.cstring(),
      typeOid: r.u32(),
      typeMod: r.i32(),
    });
  }
  return {
    tag: 'relation',
    relationOid,
    schema,
    name,
    replicaIdentity: identity as ReplicaIdentity,
    columns,
  };
}

function decodeTuple(r: ByteReader): TupleData {
  const count = r.i16();
  const values: TupleData = [];
  for (let i = 0; i < count; i++) {
    const kind = r.char();
    switch (kind) {
      case 'n':
        values.push(null);
        break;
      case 'u':
        values.push(UNCHANGED_TOAST);
        break;
      case 't':
        values.push(r.bytes(r.i32()).toString('utf8'));
        break;
      case 'b':
        throw r.error(`column ${i} is in binary format, which is not supported (use text)`);
      default:
        throw r.error(`column ${i} has unknown tuple data kind '${kind}'`);
    }
  }
  return values;
}

function expectTupleMarker(r: ByteReader, expected: string): void {
  const marker = r.char();
  if (!expected.includes(marker)) {
    throw r.error(`expected tuple marker ${[...expected].join(' or ')}, got '${marker}'`);
  }
}

function decodeInsert(r: ByteReader): PgInsert {
  const relationOid = r.u32();
  expectTupleMarker(r, 'N');
  return {tag: 'insert', relationOid, new: decodeTuple(r)};
}

function decodeUpdate(r: ByteReader): PgUpdate {
  const relationOid = r.u32();
  const marker = r.char();
  if (marker === 'N')
    return {tag: 'update', relationOid, key: null, old: null, new: decodeTuple(r)};
  if (marker !== 'K' && marker !== 'O') {
    throw r.error(`expected tuple marker K, O or N, got '${marker}'`);
  }
  const before = decodeTuple(r);
  expectTupleMarker(r, 'N');
  return {
    tag: 'update',
    relationOid,
    key: marker === 'K' ? before : null,
    old: marker === 'O' ? before : null,
    new: decodeTuple(r),
  };
}

function decodeDelete(r: ByteReader): PgDelete {
  const relationOid = r.u32();
  const marker = r.char();
  if (marker !== 'K' && marker !== 'O') {
    throw r.error(`expected tuple marker K or O, got '${marker}'`);
  }
  const tuple = decodeTuple(r);
  return {
    tag: 'delete',
    relationOid,
    key: marker === 'K' ? tuple : null,
    old: marker === 'O' ? tuple : null,
  };
}

function decodeTruncate(r: ByteReader): PgTruncate {
  const count = r.i32();
  const options = r.u8();
  const relationOids: number[] = [];
  for (let i = 0; i < count; i++) relationOids.push(r.u32());
  return {
    tag: 'truncate',
    cascade: (options & 1) !== 0,
    restartIdentity: (options & 2) !== 0,
    relationOids,
  };
}

function decodeMessage(r: ByteReader): PgMessage {
  const flags = r.u8();
  const lsn = r.u64();
  const prefix = r.cstring();
  const content = Buffer.from(r.bytes(r.i32()));
  return {tag: 'message', transactional: (flags & 1) !== 0, lsn, prefix, content};
}

// ---- Streaming replication CopyData frames ----

export interface XLogData {
  tag: 'xlogdata';
  walStart: bigint;
  walEnd: bigint;
  /** Server clock at send time: microseconds since 2000-01-01 00:00 UTC. */
  serverClock: bigint;
  payload: Buffer;
}

export interface PrimaryKeepalive {
  tag: 'keepalive';
  walEnd: bigint;
  /** Server clock at send time: microseconds since 2000-01-01 00:00 UTC. */
  serverClock: bigint;
  replyRequested: boolean;
}

export type CopyBothFrame = XLogData | PrimaryKeepalive;

/** Decodes the body of one CopyData message sent by the server during START_REPLICATION. */
export function decodeCopyBothFrame(buf: Buffer): CopyBothFrame {
  if (buf.length === 0) throw new Error('replication frame: empty CopyData');
  const type = String.fromCharCode(buf[0]!);
  const r = new ByteReader(buf, `replication frame '${type}'`);
  r.u8();
  if (type === 'w') {
    return {
      tag: 'xlogdata',
      walStart: r.u64(),
      walEnd: r.u64(),
      serverClock: r.i64(),
      payload: r.rest(),
    };
  }
  if (type === 'k') {
    const frame: PrimaryKeepalive = {
      tag: 'keepalive',
      walEnd: r.u64(),
      serverClock: r.i64(),
      replyRequested: r.u8() !== 0,
    };
    r.end();
    return frame;
  }
  throw new Error(
    `replication frame: unknown type byte 0x${buf[0]!.toString(16).padStart(2, '0')}`,
  );
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** A Date as microseconds since 2000-01-01 00:00 UTC (the Postgres timestamp epoch). */
export function dateToPgMicros(date: Date): bigint {
  return BigInt(date.getTime() - PG_EPOCH_MS) * 1000n;
}

/** Microseconds since 2000-01-01 00:00 UTC as a Date (millisecond precision). */
export function pgMicrosToDate(micros: bigint): Date {
  return new Date(Number(micros / 1000n) + PG_EPOCH_MS);
}

/** The standby status update ('r') a client sends to report its write/flush/apply positions. */
export function encodeStandbyStatusUpdate(
  writeLsn: bigint,
  flushLsn: bigint,
  applyLsn: bigint,
  replyRequested = false,
  now: Date = new Date(),
): Buffer {
  const buf = Buffer.alloc(34);
  buf.write('r', 0, 'latin1');
  buf.writeBigUInt64BE(writeLsn, 1);
  buf.writeBigUInt64BE(flushLsn, 9);
  buf.writeBigUInt64BE(applyLsn, 17);
  buf.writeBigInt64BE(dateToPgMicros(now), 25);
  buf.writeUInt8(replyRequested ? 1 : 0, 33);
  return buf;
}
