import type Database from 'better-sqlite3';
import type {LexiVersion} from '../shared/lexi-version.js';
import {ident} from './names.js';
import {readStateVersion, type ReplicaDb} from './replica-file.js';
import {
  readRowChanges,
  rowChangesPurgedBefore,
  rowKeyString,
  type RowChange,
} from './row-changes.js';

/**
 * The latest stretch of the replica's row-change list, read once (one short read transaction) per
 * new version for every client group of a sync worker, so that a group whose queries a commit
 * cannot touch need not open a transaction of its own to find that out.
 *
 * Contract: `since(v)` answers only for v within the window (from its start to its head); it
 * returns every entry after v and, for each changed row, its raw image at the head (null: the row
 * no longer exists). Together with the entries' old images these are every state the row had
 * between v and the head. It returns undefined for a v the window does not cover.
 */
export interface WindowedChanges {
  head: LexiVersion;
  entries: readonly RowChange[];
  /** The raw replica row at the head, for a keyed entry's table and key. */
  headImage(change: RowChange): Record<string, unknown> | null;
}

const DEFAULT_MAX_ENTRIES = 20_000;

export class RowChangeWindow {
  readonly #db: ReplicaDb;
  readonly #maxEntries: number;
  /** Entries after `#start`, in order. */
  #entries: RowChange[] = [];
  #start: LexiVersion | null = null;
  #head: LexiVersion | null = null;
  /** table → row key text → raw row at the head (null: absent), for rows in `#entries`. */
  readonly #images = new Map<string, Map<string, Record<string, unknown> | null>>();
  readonly #selects = new Map<string, Database.Statement>();
  /**
   * Each keyed entry's key text, made once: every client group of the worker asks for the head
   * image of every entry, and serializing the key each time was most of that cost.
   */
  readonly #keyTexts = new WeakMap<RowChange, string>();

  constructor(db: ReplicaDb, maxEntries = DEFAULT_MAX_ENTRIES) {
    this.#db = db;
    this.#maxEntries = maxEntries;
  }

  get head(): LexiVersion | null {
    return this.#head;
  }

  close(): void {
    this.#db.close();
  }

  /**
   * Reads the entries committed since the last refresh, and the new images of their rows. If that
   * fails the window empties (every `since` is undefined until a refresh succeeds) and rethrows.
   */
  refresh(): void {
    this.#db.exec('BEGIN');
    try {
      this.#read();
    } catch (e) {
      this.#entries = [];
      this.#images.clear();
      this.#start = this.#head = null;
      throw e;
    } finally {
      this.#db.exec('COMMIT');
    }
  }

  #read(): void {
    const head = readStateVersion(this.#db);
    if (head === null || head === this.#head) return;
    if (head < (this.#head ?? '')) {
      throw new Error(`row-change window: replica version went back from ${this.#head} to ${head}`);
    }
    if (this.#head === null || this.#head < rowChangesPurgedBefore(this.#db)) {
      this.#reset(head);
      return;
    }
    const added = readRowChanges(this.#db, this.#head, head);
    for (const e of added) {
      if (e.rowKey) this.#imagesOf(e.table).set(this.#keyText(e), this.#readRow(e));
      this.#entries.push(e);
    }
    this.#head = head;
    this.#trim();
  }

  since(version: LexiVersion): WindowedChanges | undefined {
    if (this.#start === null || this.#head === null) return undefined;
    if (version < this.#start || version > this.#head) return undefined;
    const entries = this.#entries.slice(this.#firstAfter(version));
    return {
      head: this.#head,
      entries,
      headImage: (e) => this.#images.get(e.table)?.get(this.#keyText(e)) ?? null,
    };
  }

  /** The index of the first entry after `version` (entries are in version order). */
  #firstAfter(version: LexiVersion): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#entries[mid]!.stateVersion > version) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  #reset(head: LexiVersion): void {
    this.#entries = [];
    this.#images.clear();
    this.#start = head;
    this.#head = head;
  }

  /** Drops whole versions from the front once the window holds more than its bound. */
  #trim(): void {
    if (this.#entries.length <= this.#maxEntries) return;
    let cut = this.#entries.length - this.#maxEntries;
    const boundary = this.#entries[cut - 1]!.stateVersion;
    while (cut < this.#entries.length && this.#entries[cut]!.stateVersion === boundary) cut++;
    this.#entries = this.#entries.slice(cut);
    this.#start = boundary;
    // Keep the head images of rows that remaining entries still refer to.
    const old = new Map(this.#images);
    this.#images.clear();
    for (const e of this.#entries) {
      if (!e.rowKey) continue;
      const key = this.#keyText(e);
      this.#imagesOf(e.table).set(key, old.get(e.table)?.get(key) ?? null);
    }
  }

  #keyText(e: RowChange): string {
    let text = this.#keyTexts.get(e);
    if (text === undefined) this.#keyTexts.set(e, (text = rowKeyString(e.rowKey!)));
    return text;
  }

  #imagesOf(table: string): Map<string, Record<string, unknown> | null> {
    let m = this.#images.get(table);
    if (!m) this.#images.set(table, (m = new Map()));
    return m;
  }

  #readRow(e: RowChange): Record<string, unknown> | null {
    const cols = Object.keys(e.rowKey!).sort();
    const sql = `SELECT * FROM ${ident(e.table)} WHERE ${cols.map((c) => `${ident(c)} = ?`).join(' AND ')}`;
    try {
      let stmt = this.#selects.get(sql);
      if (!stmt) this.#selects.set(sql, (stmt = this.#db.prepare(sql).safeIntegers(true)));
      const row = stmt.get(cols.map((c) => e.rowKey![c])) as Record<string, unknown> | undefined;
      return row ?? null;
    } catch {
      // The table was dropped or altered since: a schema-change entry follows in the list, and
      // readers of that table rehydrate instead of using this image.
      return null;
    }
  }
}
