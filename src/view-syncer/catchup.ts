import type {CVRVersion} from './cvr-version.js';
import {compareVersions, parseCookie} from './cvr-version.js';
import type {PokeBuilder} from './poke-builder.js';
import type {QuerySet} from './query-set.js';
import type {RowChangeOut, RowSet} from './row-set.js';
import type {Row} from '../zql/index.js';

/**
 * What a client whose cookie is behind the CVR needs (fact sheet §2.3): every desire, got query
 * and row whose patchVersion is after its cookie — live ones as puts (rows with their current
 * content), tombstones as dels. A client with no cookie gets everything live.
 */
export function writeCatchup(
  poke: PokeBuilder,
  cookie: string | null,
  queries: QuerySet,
  rows: RowSet,
  readRow: (table: string, key: Record<string, unknown>) => Row | null,
): void {
  const from: CVRVersion | null = cookie === null ? null : parseCookie(cookie);
  const after = (v: CVRVersion | null) => v !== null && compareVersions(v, from) > 0;
  for (const [clientID, desires] of queries.desires) {
    for (const d of desires.values()) {
      if (from === null ? !d.deleted : after(d.patchVersion)) {
        poke.desired(
          clientID,
          d.deleted ? {op: 'del', hash: d.queryHash} : {op: 'put', hash: d.queryHash},
        );
      }
    }
  }
  for (const q of queries.queries.values()) {
    if (q.kind === 'internal') continue;
    if (from === null ? !q.deleted && q.patchVersion : after(q.patchVersion)) {
      poke.got(q.deleted ? {op: 'del', hash: q.queryHash} : {op: 'put', hash: q.queryHash});
    }
  }
  for (const [id, rec] of rows.records) {
    if (from === null ? !rec.refCounts : !after(rec.patchVersion)) continue;
    const change: RowChangeOut = {id, table: rec.table, key: rec.rowKey};
    if (rec.refCounts) {
      const row = readRow(rec.table, rec.rowKey);
      if (!row) continue; // gone at this version: the pipelines will report its removal
      change.row = row;
    }
    poke.row(change);
  }
}
