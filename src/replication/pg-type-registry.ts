import type postgres from 'postgres';
import type {ColumnSpec} from '../protocol/change-stream.js';

/**
 * Type names of upstream OIDs, so that pgoutput tuples (which name columns' types by OID only) decode
 * exactly as COPY rows of the same columns do. Loaded from pg_type; reloaded when an OID is unknown
 * (a type created after start, e.g. a new enum).
 */
interface TypeRow {
  oid: number;
  typname: string;
  typtype: string;
  typelem: number;
}

export class PgTypeRegistry {
  readonly #sql: postgres.Sql;
  #types = new Map<number, TypeRow>();

  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  async load(): Promise<void> {
    const rows = await this.#sql<TypeRow[]>`
      SELECT oid::int4 AS oid, typname, typtype, typelem::int4 AS typelem FROM pg_type`;
    this.#types = new Map(rows.map((r) => [r.oid, r]));
  }

  /** The column spec fields that decoders need, for a column of type `oid`. */
  async specOf(oid: number): Promise<Pick<ColumnSpec, 'dataType' | 'pgTypeClass' | 'typeOID'>> {
    if (!this.#types.has(oid)) await this.load();
    const t = this.#types.get(oid);
    if (!t) throw new Error(`replication: unknown upstream type oid ${oid}`);
    const elem =
      t.typelem !== 0 && t.typname.startsWith('_') ? this.#types.get(t.typelem) : undefined;
    if (elem) return {dataType: `${elem.typname}[]`, pgTypeClass: t.typtype, typeOID: oid};
    return {dataType: t.typname, pgTypeClass: t.typtype, typeOID: oid};
  }
}
