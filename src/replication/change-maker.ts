import type {DataChange, Relation, Row} from '../protocol/change-stream.js';
import type {Logger} from '../shared/log.js';
import {lsnToWatermark} from '../shared/lsn.js';
import type {LexiVersion} from '../shared/lexi-version.js';
import {decoderFor, type TextDecoder} from './pg-text-values.js';
import type {PgTypeRegistry} from './pg-type-registry.js';
import {
  UNCHANGED_TOAST,
  type PgMessage,
  type PgRelation,
  type PgoutputMessage,
  type TupleData,
} from './pgoutput/decoder.js';
import type {ServerPosition} from './pgoutput/replication-stream.js';
import type {PublishedSchema} from './published-schema.js';
import {diffPublishedSchemas} from './schema-diff.js';

/**
 * Turns pgoutput messages into change-stream events: one `begin` (with the commit watermark, the
 * lexi form of the commit LSN), the transaction's data changes with decoded values, one `commit`.
 * DDL arrives as the event triggers' logical messages; the schema before and after each statement
 * is diffed into schema changes, in place in the transaction.
 */
export type SourceEvent =
  | {type: 'begin'; commitWatermark: LexiVersion}
  | {type: 'data'; change: DataChange}
  | {type: 'commit'; watermark: LexiVersion; ackLsn: bigint}
  /** Between transactions: everything upstream up to `ackLsn` has been sent. */
  | {type: 'status'; ackLsn: bigint};

interface RelationInfo {
  relation: Relation;
  columns: {name: string; decode: TextDecoder}[];
}

export class ChangeMaker {
  readonly #types: PgTypeRegistry;
  readonly #ddlPrefix: string;
  readonly #log: Logger;
  readonly #relations = new Map<number, RelationInfo>();
  #commitWatermark: LexiVersion | null = null;
  #schemaBefore: PublishedSchema | null = null;

  constructor(types: PgTypeRegistry, ddlPrefix: string, log: Logger) {
    this.#types = types;
    this.#ddlPrefix = ddlPrefix;
    this.#log = log;
  }

  async process(msg: PgoutputMessage | ServerPosition): Promise<SourceEvent[]> {
    switch (msg.tag) {
      case 'position':
        return this.#commitWatermark === null ? [{type: 'status', ackLsn: msg.walEnd}] : [];
      case 'begin':
        this.#commitWatermark = lsnToWatermark(msg.finalLsn);
        return [{type: 'begin', commitWatermark: this.#commitWatermark}];
      case 'commit': {
        const watermark = lsnToWatermark(msg.commitLsn);
        if (watermark !== this.#commitWatermark) {
          throw new Error(
            `replication: commit at ${watermark} does not match begin at ${this.#commitWatermark}`,
          );
        }
        this.#commitWatermark = null;
        this.#schemaBefore = null;
        return [{type: 'commit', watermark, ackLsn: msg.endLsn}];
      }
      case 'relation':
        this.#relations.set(msg.relationOid, await this.#relationInfo(msg));
        return [];
      case 'insert': {
        const r = this.#relation(msg.relationOid);
        return [
          {
            type: 'data',
            change: {tag: 'insert', relation: r.relation, new: decodeTuple(r, msg.new)},
          },
        ];
      }
      case 'update': {
        const r = this.#relation(msg.relationOid);
        const old = msg.key ?? msg.old;
        const key = old ? keyOf(r, decodeTuple(r, old)) : null;
        return [
          {
            type: 'data',
            change: {tag: 'update', relation: r.relation, key, new: decodeTuple(r, msg.new)},
          },
        ];
      }
      case 'delete': {
        const r = this.#relation(msg.relationOid);
        const old = msg.key ?? msg.old;
        if (!old) throw new Error(`replication: DELETE on ${r.relation.name} carries no key`);
        return [
          {
            type: 'data',
            change: {tag: 'delete', relation: r.relation, key: keyOf(r, decodeTuple(r, old))},
          },
        ];
      }
      case 'truncate':
        return [
          {
            type: 'data',
            change: {
              tag: 'truncate',
              relations: msg.relationOids.map((o) => this.#relation(o).relation),
            },
          },
        ];
      case 'message':
        return this.#ddlMessage(msg);
      default:
        return []; // origin, type: nothing to replicate
    }
  }

  #relation(oid: number): RelationInfo {
    const r = this.#relations.get(oid);
    if (!r) throw new Error(`replication: row for relation oid ${oid} before its RELATION message`);
    return r;
  }

  async #relationInfo(msg: PgRelation): Promise<RelationInfo> {
    const columns = [];
    for (const c of msg.columns) {
      columns.push({name: c.name, decode: decoderFor(await this.#types.specOf(c.typeOid))});
    }
    return {
      relation: {
        schema: msg.schema,
        name: msg.name,
        keyColumns: msg.columns.filter((c) => c.isKey).map((c) => c.name),
        replicaIdentity: IDENTITY[msg.replicaIdentity],
      },
      columns,
    };
  }

  #ddlMessage(msg: PgMessage): SourceEvent[] {
    if (!msg.transactional || msg.prefix !== this.#ddlPrefix) return [];
    const body = JSON.parse(msg.content.toString('utf8')) as {
      type: string;
      schema: PublishedSchema;
      context?: {query?: string};
    };
    if (body.type === 'ddlStart') {
      this.#schemaBefore = body.schema;
      return [];
    }
    if (body.type !== 'ddlUpdate') return [];
    if (!this.#schemaBefore)
      throw new Error('replication: ddlUpdate message without a preceding ddlStart');
    const changes = diffPublishedSchemas(this.#schemaBefore, body.schema);
    this.#schemaBefore = body.schema;
    if (changes.length > 0) {
      this.#log.info(
        `replication: schema change (${changes.map((c) => c.tag).join(', ')}) from: ${body.context?.query ?? '?'}`,
      );
    }
    return changes.map((change) => ({type: 'data', change}));
  }
}

const IDENTITY = {d: 'default', n: 'nothing', f: 'full', i: 'index'} as const;

/** Decodes a tuple; unchanged TOAST values are left out of the row (the replica keeps its value). */
function decodeTuple(r: RelationInfo, tuple: TupleData): Row {
  const row: Row = {};
  tuple.forEach((v, i) => {
    const col = r.columns[i];
    if (!col)
      throw new Error(
        `replication: tuple of ${r.relation.name} has more columns than its relation`,
      );
    if (v === UNCHANGED_TOAST) return;
    row[col.name] = v === null ? null : col.decode(v);
  });
  return row;
}

function keyOf(r: RelationInfo, row: Row): Row {
  if (r.relation.replicaIdentity === 'full') return row;
  const key: Row = {};
  for (const k of r.relation.keyColumns) key[k] = row[k] ?? null;
  return key;
}
