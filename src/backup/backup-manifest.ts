import * as v from '@badrap/valita';
import {versionFromLexi, type LexiVersion} from '../shared/lexi-version.js';
import {getJSON, putJSON, type ObjectStore, type StoredObject} from './object-store.js';

/**
 * The layout of a backup in its ObjectStore:
 *
 *   manifest.json                                         the latest complete backup (below)
 *   snapshots/<replicaVersion>/<stateVersion>-<hash>.db.gz  gzip of a consistent replica copy
 *
 * The manifest is the only thing a restore reads to find a snapshot, so restore never lists
 * (listing is slow, and S3-compatible stores differ in it). A snapshot key carries part of the
 * object's sha256, so a key never names two different contents and rewriting a key is harmless.
 */
export interface BackupManifest {
  format: 1;
  replicaVersion: LexiVersion;
  /** The stateVersion of the snapshot: a restore resumes the change stream from here. */
  watermark: LexiVersion;
  key: string;
  /** Size of the stored (compressed) object. */
  bytes: number;
  /** sha256 of the stored (compressed) object, lowercase hex. */
  sha256: string;
  createdAt: string;
}

export const MANIFEST_KEY = 'manifest.json';
export const SNAPSHOTS_PREFIX = 'snapshots/';
const FORMAT = 1;

/**
 * A backup that exists but cannot be used: its manifest is malformed, or the snapshot it names is
 * missing, fails its hash, is not valid gzip or SQLite, or holds other versions than the manifest
 * says. Callers treat it as "no usable backup" (e.g. resync from upstream), unlike a store
 * failure (BackupStoreError), which may pass.
 */
export class CorruptBackupError extends Error {
  override name = 'CorruptBackupError';
  readonly manifest: BackupManifest | null;

  constructor(message: string, manifest: BackupManifest | null, cause?: unknown) {
    super(`backup: ${message}`, {cause});
    this.manifest = manifest;
  }
}

export class MalformedManifestError extends CorruptBackupError {
  override name = 'MalformedManifestError';

  constructor(location: string, problem: string, cause?: unknown) {
    super(`${location}${MANIFEST_KEY} is malformed: ${problem}`, null, cause);
  }
}

function isLexi(s: string): boolean {
  try {
    versionFromLexi(s);
    return true;
  } catch {
    return false;
  }
}

const manifestSchema = v.object({
  format: v.literal(FORMAT),
  replicaVersion: v.string().assert(isLexi, 'a lexi version'),
  watermark: v.string().assert(isLexi, 'a lexi version'),
  key: v.string().assert((k) => parseSnapshotKey(k) !== null, `a key under ${SNAPSHOTS_PREFIX}`),
  bytes: v.number().assert((n) => Number.isSafeInteger(n) && n >= 0, 'a byte count'),
  sha256: v.string().assert((h) => /^[0-9a-f]{64}$/.test(h), 'a sha256 in hex'),
  createdAt: v.string(),
});

/** The published manifest, or null when nothing was ever backed up here. */
export async function readBackupManifest(store: ObjectStore): Promise<BackupManifest | null> {
  let raw: unknown;
  try {
    raw = await getJSON(store, MANIFEST_KEY);
  } catch (e) {
    if (e instanceof SyntaxError) throw new MalformedManifestError(store.location, e.message, e);
    throw e;
  }
  if (raw === undefined) return null;
  const format = (raw as {format?: unknown} | null)?.format;
  if (typeof format === 'number' && format !== FORMAT) {
    throw new MalformedManifestError(
      store.location,
      `format ${format} is not supported (this zcache reads format ${FORMAT}; was it written by a newer one?)`,
    );
  }
  const parsed = manifestSchema.try(raw, {mode: 'strip'});
  if (!parsed.ok) throw new MalformedManifestError(store.location, parsed.message);
  const m = parsed.value;
  const k = parseSnapshotKey(m.key);
  if (k?.replicaVersion !== m.replicaVersion || k.stateVersion !== m.watermark) {
    throw new MalformedManifestError(
      store.location,
      `key ${m.key} does not match replicaVersion ${m.replicaVersion} / watermark ${m.watermark}`,
    );
  }
  return m;
}

export async function writeBackupManifest(store: ObjectStore, m: BackupManifest): Promise<void> {
  await putJSON(store, MANIFEST_KEY, m);
}

export function snapshotKey(
  replicaVersion: LexiVersion,
  stateVersion: LexiVersion,
  sha256: string,
): string {
  if (!isLexi(replicaVersion) || !isLexi(stateVersion)) {
    throw new Error(`backup: versions ${replicaVersion} / ${stateVersion} are not lexi versions`);
  }
  return `${SNAPSHOTS_PREFIX}${replicaVersion}/${stateVersion}-${sha256.slice(0, 16)}.db.gz`;
}

export function parseSnapshotKey(
  key: string,
): {replicaVersion: LexiVersion; stateVersion: LexiVersion} | null {
  const m = /^snapshots\/([0-9a-z]+)\/([0-9a-z]+)-[0-9a-f]{16}\.db\.gz$/.exec(key);
  if (!m || !isLexi(m[1]!) || !isLexi(m[2]!)) return null;
  return {replicaVersion: m[1]!, stateVersion: m[2]!};
}

/**
 * The snapshots to delete so that `retain` remain (at least 1), never the manifest's. Newest
 * first means: of the manifest's replicaVersion, then by stateVersion, then by upload time.
 * Objects whose keys we did not write are never chosen.
 */
export function snapshotsBeyondRetention(
  objects: readonly StoredObject[],
  manifest: BackupManifest,
  retain: number,
): string[] {
  const ours = objects.flatMap((o) => {
    const k = parseSnapshotKey(o.key);
    return k && o.key !== manifest.key ? [{...o, ...k}] : [];
  });
  ours.sort(
    (a, b) =>
      Number(b.replicaVersion === manifest.replicaVersion) -
        Number(a.replicaVersion === manifest.replicaVersion) ||
      compareDesc(a.stateVersion, b.stateVersion) ||
      (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0),
  );
  return ours.slice(Math.max(retain, 1) - 1).map((o) => o.key);
}

function compareDesc(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}
