import type {LiteValue} from '../protocol/change-stream.js';
import {ident, liteTableName} from '../replica/names.js';
import type {ReplicaDb} from '../replica/replica-file.js';
import {CopyTextParser} from './copy-text-parser.js';
import {decoderFor} from './pg-text-values.js';
import type {PublishedTableSpec} from './published-schema.js';
import {pgIdent} from './shard-names.js';
import {connectPostgres} from './upstream-connection.js';

/**
 * Copies one upstream table into its (already created) replica table, reading `COPY ... TO STDOUT`
 * inside a transaction that imported the initial-sync snapshot. Rows are inserted in batches; the
 * caller owns the SQLite transaction around all copies.
 */
const BATCH_ROWS = 50;

export interface CopyStats {
  rows: number;
  bytes: number;
}

/**
 * Each table is copied on a connection of its own that is closed (not reused) afterwards: with
 * postgres.js 3.4, a COPY stream that applied backpressure can leave its socket paused after
 * CopyDone, so the next query on that connection (the COMMIT) never completes. A read-only
 * transaction needs no COMMIT; closing the connection ends it.
 */
export async function copyTable(
  upstreamUrl: string,
  snapshotName: string,
  table: PublishedTableSpec,
  db: ReplicaDb,
): Promise<CopyStats> {
  const cols = Object.entries(table.columns).sort(([, a], [, b]) => a.pos - b.pos);
  const names = cols.map(([n]) => n);
  const decoders = cols.map(([, spec]) => decoderFor(spec));
  const insert = batchInserter(db, liteTableName(table), names);
  const stats: CopyStats = {rows: 0, bytes: 0};
  const conn = connectPostgres(upstreamUrl, {max: 1, applicationName: 'zcache-copy'});
  try {
    await conn.unsafe('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await conn.unsafe(`SET TRANSACTION SNAPSHOT '${snapshotName}'`);
    const stream = await conn.unsafe(copyQuery(table, names)).readable();
    const parser = new CopyTextParser();
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      stats.bytes += chunk.length;
      for (const fields of parser.push(chunk)) {
        insert.add(fields.map((f, i) => (f === null ? null : decoders[i]!(f))));
        stats.rows++;
      }
    }
    parser.end();
  } finally {
    await conn.end({timeout: 0});
  }
  insert.flush();
  return stats;
}

function copyQuery(table: PublishedTableSpec, names: string[]): string {
  const filters = Object.values(table.publications).map((p) => p.rowFilter);
  const where =
    filters.length > 0 && filters.every((f) => f)
      ? ` WHERE ${filters.map((f) => `(${f})`).join(' OR ')}`
      : '';
  return `COPY (SELECT ${names.map(pgIdent).join(', ')} FROM ${pgIdent(table.schema)}.${pgIdent(table.name)}${where}) TO STDOUT`;
}

function batchInserter(db: ReplicaDb, liteName: string, names: string[]) {
  const rowSql = `(${names.map(() => '?').join(',')})`;
  const prefix = `INSERT INTO ${ident(liteName)} (${names.map(ident).join(',')}) VALUES `;
  const full = db.prepare(prefix + Array(BATCH_ROWS).fill(rowSql).join(','));
  const single = db.prepare(prefix + rowSql);
  let pending: LiteValue[] = [];
  let count = 0;
  return {
    add(values: LiteValue[]) {
      for (const v of values) pending.push(v);
      if (++count === BATCH_ROWS) {
        full.run(pending);
        pending = [];
        count = 0;
      }
    },
    flush() {
      for (let i = 0; i < count; i++)
        single.run(pending.slice(i * names.length, (i + 1) * names.length));
      pending = [];
      count = 0;
    },
  };
}
