import type {AST} from '../protocol/ast.js';
import type {UpQueryOp} from '../protocol/sync-up-queries.js';
import type {DesireRecord, QueryRecord} from './cvr-types.js';
import {compareVersions, type CVRVersion} from './cvr-version.js';
import {clampTTL} from './ttl.js';

/**
 * The query half of a CVR: which queries each client desires (with TTLs) and which the group has
 * got, with tombstones for catch-up. Mutations record the version they happen at and the records
 * they touched (for the next flush); they never decide versions themselves.
 *
 * TTL rules (fact sheet §2.5): `put` adds or re-activates a desire, or lengthens its TTL (a shorter
 * or equal TTL on an active desire changes nothing); `del` inactivates it at the TTL clock, keeping
 * its TTL; `clear` removes all of a client's desires with no TTL. A query expires when no client
 * desires it actively and every inactive desire's TTL has run out.
 */
export interface DesiredPatch {
  clientID: string;
  op: 'put' | 'del';
  queryHash: string;
}

export class QuerySet {
  readonly queries: Map<string, QueryRecord>;
  readonly desires: Map<string, Map<string, DesireRecord>>;
  readonly dirtyQueries = new Set<string>();
  readonly dirtyDesires: DesireRecord[] = [];

  constructor(queries: Map<string, QueryRecord>, desires: Map<string, Map<string, DesireRecord>>) {
    this.queries = queries;
    this.desires = desires;
  }

  /** Applies a client's desiredQueriesPatch; returns the desired-query patches it produced. */
  applyPatch(
    clientID: string,
    ops: readonly UpQueryOp[],
    version: CVRVersion,
    ttlClock: number,
  ): DesiredPatch[] {
    const out: DesiredPatch[] = [];
    for (const op of ops) {
      if (op.op === 'clear') {
        for (const d of this.#desiresOf(clientID).values()) {
          if (!d.deleted || d.inactivatedAtMs !== null) out.push(this.#drop(d, version, null));
        }
      } else if (op.op === 'del') {
        const d = this.#desiresOf(clientID).get(op.hash);
        if (d && !d.deleted) out.push(this.#drop(d, version, ttlClock));
      } else {
        const p = this.#put(clientID, op, version);
        if (p) out.push(p);
      }
    }
    return out;
  }

  /** Inactivates every desire of a deleted client (keeping TTLs). */
  removeClient(clientID: string, version: CVRVersion, ttlClock: number): DesiredPatch[] {
    const out = [...this.#desiresOf(clientID).values()]
      .filter((d) => !d.deleted)
      .map((d) => this.#drop(d, version, ttlClock));
    return out;
  }

  #put(
    clientID: string,
    op: Extract<UpQueryOp, {op: 'put'}>,
    version: CVRVersion,
  ): DesiredPatch | null {
    if (!this.queries.has(op.hash) || this.queries.get(op.hash)!.deleted) {
      const kind = op.ast ? 'client' : 'custom';
      if (kind === 'custom' && !op.name)
        throw new Error(`query ${op.hash} has neither an ast nor a name`);
      this.queries.set(op.hash, {
        queryHash: op.hash,
        kind,
        ast: (op.ast as AST | undefined) ?? null,
        name: op.name ?? null,
        args: op.args ?? null,
        patchVersion: null,
        transformationHash: null,
        deleted: false,
      });
      this.dirtyQueries.add(op.hash);
    }
    const ttl = clampTTL(op.ttl);
    const existing = this.#desiresOf(clientID).get(op.hash);
    if (existing && !existing.deleted && existing.ttlMs >= ttl) return null;
    const d: DesireRecord = {
      clientID,
      queryHash: op.hash,
      patchVersion: version,
      deleted: false,
      ttlMs: ttl,
      inactivatedAtMs: null,
    };
    this.#desiresOf(clientID).set(op.hash, d);
    this.dirtyDesires.push(d);
    return {clientID, op: 'put', queryHash: op.hash};
  }

  #drop(d: DesireRecord, version: CVRVersion, inactivatedAt: number | null): DesiredPatch {
    const dropped: DesireRecord = {
      ...d,
      deleted: true,
      patchVersion: version,
      inactivatedAtMs: inactivatedAt,
    };
    this.#desiresOf(d.clientID).set(d.queryHash, dropped);
    this.dirtyDesires.push(dropped);
    return {clientID: d.clientID, op: 'del', queryHash: d.queryHash};
  }

  #desiresOf(clientID: string): Map<string, DesireRecord> {
    let m = this.desires.get(clientID);
    if (!m) {
      m = new Map();
      this.desires.set(clientID, m);
    }
    return m;
  }

  /** Live (non-tombstoned) queries that should have pipelines: desired by someone, not expired. */
  liveQueries(ttlClock: number): QueryRecord[] {
    return [...this.queries.values()].filter(
      (q) => !q.deleted && !this.#expired(q.queryHash, ttlClock),
    );
  }

  /** Queries that have expired at `ttlClock` but are not yet tombstoned. */
  expiredQueries(ttlClock: number): QueryRecord[] {
    return [...this.queries.values()].filter(
      (q) => !q.deleted && q.kind !== 'internal' && this.#expired(q.queryHash, ttlClock),
    );
  }

  /** TTL-clock time of the next expiry among inactive desires, or null. */
  nextExpiry(): number | null {
    let next: number | null = null;
    for (const m of this.desires.values()) {
      for (const d of m.values()) {
        if (d.deleted && d.inactivatedAtMs !== null) {
          const at = d.inactivatedAtMs + d.ttlMs;
          if (next === null || at < next) next = at;
        }
      }
    }
    return next;
  }

  #expired(hash: string, ttlClock: number): boolean {
    if (this.queries.get(hash)?.kind === 'internal') return false;
    // No desire at all, or only inactive ones whose TTL ran out (or that were cleared without TTL).
    for (const m of this.desires.values()) {
      const d = m.get(hash);
      if (!d) continue;
      if (!d.deleted) return false;
      if (d.inactivatedAtMs !== null && d.inactivatedAtMs + d.ttlMs > ttlClock) return false;
    }
    return true;
  }

  markGot(hash: string, version: CVRVersion, transformationHash: string): void {
    const q = this.queries.get(hash)!;
    this.queries.set(hash, {...q, patchVersion: version, transformationHash});
    this.dirtyQueries.add(hash);
  }

  /** Tombstones an expired or removed query. Returns whether it had been got (needs a got del). */
  tombstone(hash: string, version: CVRVersion): boolean {
    const q = this.queries.get(hash);
    if (!q || q.deleted) return false;
    const wasGot = q.patchVersion !== null;
    this.queries.set(hash, {...q, deleted: true, patchVersion: version});
    this.dirtyQueries.add(hash);
    return wasGot;
  }

  /** Gives every record changed since the last flush the version it takes effect at. */
  stampDirty(version: CVRVersion): void {
    for (const h of this.dirtyQueries) {
      const q = this.queries.get(h)!;
      if (q.patchVersion !== null) this.queries.set(h, {...q, patchVersion: version});
    }
    for (let i = 0; i < this.dirtyDesires.length; i++) {
      const d = this.dirtyDesires[i]!;
      const stamped = {...d, patchVersion: version};
      this.dirtyDesires[i] = stamped;
      if (this.desires.get(d.clientID)?.get(d.queryHash) === d)
        this.desires.get(d.clientID)!.set(d.queryHash, stamped);
    }
  }

  /**
   * Bounds the group's query records: when there are more than `max`, forgets the oldest query
   * tombstones (with every desire of theirs) until at most 90% of `max` remain or no tombstone is
   * left; live queries are never forgotten. A forgotten tombstone can no longer tell a client that
   * is behind it that the query went away, so the caller must reset any client whose cookie is
   * older than the returned `through` (the newest patch version forgotten); null when nothing was.
   */
  purgeTombstones(max: number): {hashes: string[]; through: CVRVersion | null} {
    if (this.queries.size <= max) return {hashes: [], through: null};
    const target = Math.floor(max * 0.9);
    const tombstones = [...this.queries.values()]
      .filter((q) => q.deleted && q.kind !== 'internal')
      .sort((a, b) => compareVersions(a.patchVersion, b.patchVersion));
    const hashes: string[] = [];
    let through: CVRVersion | null = null;
    const newest = (v: CVRVersion | null) => {
      if (compareVersions(v, through) > 0) through = v;
    };
    for (const q of tombstones) {
      if (this.queries.size <= target) break;
      this.queries.delete(q.queryHash);
      this.dirtyQueries.delete(q.queryHash);
      newest(q.patchVersion);
      for (const m of this.desires.values()) {
        const d = m.get(q.queryHash);
        if (d) newest(d.patchVersion);
        m.delete(q.queryHash);
      }
      hashes.push(q.queryHash);
    }
    const purged = new Set(hashes);
    const kept = this.dirtyDesires.filter((d) => !purged.has(d.queryHash));
    this.dirtyDesires.splice(0, this.dirtyDesires.length, ...kept);
    return {hashes, through};
  }

  takeDirty(): {queries: QueryRecord[]; desires: DesireRecord[]} {
    const queries = [...this.dirtyQueries].map((h) => this.queries.get(h)!);
    const desires = this.dirtyDesires.splice(0);
    this.dirtyQueries.clear();
    return {queries, desires};
  }
}
