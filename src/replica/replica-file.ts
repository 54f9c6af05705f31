import {mkdirSync} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type {LexiVersion} from '../shared/lexi-version.js';

/**
 * The replica SQLite file: WAL mode, stock SQLite. One writer (the replicator); readers use short
 * transactions only, so checkpoints can always reset the WAL.
 *
 * Durability: synchronous=NORMAL survives a process crash at any instant; after a power loss the
 * last transactions may be lost, which is safe because the replica's stateVersion rolls back with
 * them and the change log still holds them.
 */
export type ReplicaDb = Database.Database;

export function openReplica(file: string, opts: {readonly?: boolean} = {}): ReplicaDb {
  const readonly = opts.readonly ?? false;
  // ZERO_REPLICA_FILE may name a folder that does not exist yet (e.g. a fresh volume).
  if (!readonly) mkdirSync(path.dirname(path.resolve(file)), {recursive: true});
  const db = new Database(file, {readonly, fileMustExist: readonly});
  db.pragma('busy_timeout = 30000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('journal_size_limit = 67108864');
  }
  return db;
}

/** The replica's own bookkeeping tables. `rowChanges` is our append-only per-row change list. */
const META_DDL = `
CREATE TABLE IF NOT EXISTS "_zero.replicationConfig" (
  "replicaVersion" TEXT NOT NULL,
  "publications" TEXT NOT NULL,
  "slot" TEXT NOT NULL,
  "lock" INTEGER PRIMARY KEY CHECK ("lock" = 1)
);
CREATE TABLE IF NOT EXISTS "_zero.replicationState" (
  "stateVersion" TEXT NOT NULL,
  "lock" INTEGER PRIMARY KEY CHECK ("lock" = 1)
);
CREATE TABLE IF NOT EXISTS "_zero.tableMeta" (
  "liteName" TEXT PRIMARY KEY,
  "schema" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "primaryKey" TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS "_zero.rowChanges" (
  "seq" INTEGER PRIMARY KEY,
  "stateVersion" TEXT NOT NULL,
  "table" TEXT NOT NULL,
  "rowKey" TEXT,
  "op" TEXT NOT NULL,
  "oldRow" TEXT
);
CREATE INDEX IF NOT EXISTS "_zero.rowChanges_version" ON "_zero.rowChanges" ("stateVersion");
CREATE TABLE IF NOT EXISTS "_zero.rowChangesState" (
  "purgedBefore" TEXT NOT NULL,
  "lock" INTEGER PRIMARY KEY CHECK ("lock" = 1)
);
`;

export function createMetaTables(db: ReplicaDb): void {
  db.exec(META_DDL);
}

export interface ReplicationConfig {
  replicaVersion: LexiVersion;
  publications: string[];
  slot: string;
}

export function readReplicationConfig(db: ReplicaDb): ReplicationConfig | null {
  if (!hasTable(db, '_zero.replicationConfig')) return null;
  const row = db.prepare('SELECT * FROM "_zero.replicationConfig"').get() as
    {replicaVersion: string; publications: string; slot: string} | undefined;
  if (!row) return null;
  return {
    replicaVersion: row.replicaVersion,
    publications: JSON.parse(row.publications),
    slot: row.slot,
  };
}

export function writeReplicationConfig(db: ReplicaDb, c: ReplicationConfig): void {
  db.prepare(
    'INSERT OR REPLACE INTO "_zero.replicationConfig" ("replicaVersion","publications","slot","lock") VALUES (?,?,?,1)',
  ).run(c.replicaVersion, JSON.stringify(c.publications), c.slot);
}

export function readStateVersion(db: ReplicaDb): LexiVersion | null {
  // Read on every step of every client group: a cached statement, and no separate existence check.
  let stmt: Database.Statement;
  try {
    stmt = cachedStatement(db, 'SELECT "stateVersion" FROM "_zero.replicationState"');
  } catch {
    return null; // no meta tables yet
  }
  const row = stmt.get() as {stateVersion: string} | undefined;
  return row?.stateVersion ?? null;
}

export function writeStateVersion(db: ReplicaDb, v: LexiVersion): void {
  cachedStatement(
    db,
    'INSERT INTO "_zero.replicationState" ("stateVersion","lock") VALUES (?,1) ON CONFLICT("lock") DO UPDATE SET "stateVersion" = excluded."stateVersion"',
  ).run(v);
}

const statementCache = new WeakMap<ReplicaDb, Map<string, Database.Statement>>();

/** A statement prepared once per connection (for statements run on every commit). */
export function cachedStatement(db: ReplicaDb, sql: string): Database.Statement {
  let m = statementCache.get(db);
  if (!m) statementCache.set(db, (m = new Map()));
  let stmt = m.get(sql);
  if (!stmt) m.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

export function hasTable(db: ReplicaDb, name: string): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
    undefined
  );
}

/**
 * Checkpoints the WAL into the database file; returns whether every commit so far is now in it,
 * synced (with synchronous=NORMAL a completed checkpoint syncs the WAL before and the database
 * after). `truncate` also resets the WAL, waiting (busy_timeout) for readers to leave it; without
 * it the checkpoint never waits, and completes only when no reader holds back a frame.
 */
export function checkpointReplica(db: ReplicaDb, mode: 'truncate' | 'passive'): boolean {
  const pragma = mode === 'truncate' ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(PASSIVE)';
  const [res] = db.pragma(pragma) as {busy: number; log: number; checkpointed: number}[];
  return res !== undefined && res.busy === 0 && res.log >= 0 && res.checkpointed === res.log;
}
