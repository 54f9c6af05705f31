import type {Row} from '../zql/index.js';
import type {RowPatch} from '../zql/index.js';
import type {RowRecord} from './cvr-types.js';
import type {CVRVersion} from './cvr-version.js';

/**
 * The row half of a CVR: every row the group's clients hold, with the queries referencing it.
 * A step feeds it each query's row patches; `finish` returns the net row changes for the poke
 * (one per row: a put when a row became referenced or changed version, a del when its last
 * reference went) and stamps them with the step's version. Unreferenced rows stay as tombstones
 * (refCounts null) for catch-up.
 */
export interface RowChangeOut {
  id: string;
  table: string;
  key: Record<string, unknown>;
  /** The full row (with `_0_version`) for a put; undefined for a del. */
  row?: Row;
}

export class RowSet {
  readonly records: Map<string, RowRecord>;
  readonly #before = new Map<string, RowRecord | undefined>();
  readonly #contents = new Map<string, Row>();

  constructor(records: Map<string, RowRecord>) {
    this.records = records;
  }

  static idOf(table: string, key: Record<string, unknown>): string {
    return `${table}/${JSON.stringify(
      Object.keys(key)
        .sort()
        .map((k) => key[k]),
    )}`;
  }

  #touch(id: string): RowRecord | undefined {
    const rec = this.records.get(id);
    if (!this.#before.has(id))
      this.#before.set(id, rec && {...rec, refCounts: rec.refCounts && {...rec.refCounts}});
    return rec;
  }

  apply(queryHash: string, patches: readonly RowPatch[], version: CVRVersion): void {
    for (const p of patches) {
      const id = RowSet.idOf(p.table, p.key);
      const rec = this.#touch(id);
      if (p.op === 'put') {
        const row = p.row!;
        const refCounts = {...(rec?.refCounts ?? {}), [queryHash]: 1};
        this.records.set(id, {
          table: p.table,
          rowKey: p.key,
          rowVersion: String(row._0_version),
          patchVersion: rec?.patchVersion ?? version,
          refCounts,
        });
        this.#contents.set(id, row);
      } else if (rec?.refCounts?.[queryHash]) {
        const {[queryHash]: _gone, ...rest} = rec.refCounts;
        this.records.set(id, {...rec, refCounts: Object.keys(rest).length ? rest : null});
      }
    }
  }

  /** Drops every reference of `queryHash` (a removed query, or one about to be rehydrated). */
  release(queryHash: string): void {
    for (const [id, rec] of this.records) {
      if (!rec.refCounts?.[queryHash]) continue;
      this.#touch(id);
      const {[queryHash]: _gone, ...rest} = rec.refCounts;
      this.records.set(id, {...rec, refCounts: Object.keys(rest).length ? rest : null});
    }
  }

  /** Net changes since the last finish, stamped with `version`; returns them and the dirty records. */
  finish(version: CVRVersion): {changes: RowChangeOut[]; dirty: RowRecord[]} {
    const changes: RowChangeOut[] = [];
    const dirty: RowRecord[] = [];
    for (const [id, before] of this.#before) {
      const now = this.records.get(id)!;
      const wasLive = !!before?.refCounts;
      const isLive = !!now.refCounts;
      const versionChanged = before?.rowVersion !== now.rowVersion;
      let patched = false;
      if (isLive && (!wasLive || versionChanged)) {
        changes.push({id, table: now.table, key: now.rowKey, row: this.#contents.get(id)});
        patched = true;
      } else if (!isLive && wasLive) {
        changes.push({id, table: now.table, key: now.rowKey});
        patched = true;
      }
      const rec = patched ? {...now, patchVersion: version} : now;
      this.records.set(id, rec);
      if (patched || JSON.stringify(before?.refCounts) !== JSON.stringify(now.refCounts))
        dirty.push(rec);
    }
    this.#before.clear();
    this.#contents.clear();
    return {changes, dirty};
  }
}
