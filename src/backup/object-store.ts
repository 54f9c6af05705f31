/**
 * Where backups live: a flat namespace of keys (relative to the store's own prefix) naming
 * immutable blobs. S3 is the real one (s3-object-store.ts); tests wrap it to inject faults.
 *
 * Contract:
 * - `putFile` / `putBytes` are atomic per object: a reader sees the old object, no object, or the
 *   whole new one, never part of it. Nothing orders two puts for another reader except that a put
 *   completes before its promise resolves (so "upload the snapshot, then write the manifest" means
 *   a reader that sees the manifest can fetch the snapshot).
 * - `getFile` writes the object to `file` (replacing it) and returns false, writing nothing, when
 *   the key does not exist. On failure `file` may be partly written; the caller owns it.
 * - `delete` of a missing key succeeds.
 * - `list` returns every key under the prefix, with no delimiter (no "folders"), in no promised
 *   order; it is not a snapshot: objects put or deleted while it runs may or may not appear.
 * - Every failure is a `BackupStoreError` naming the operation and key.
 */
export interface ObjectStore {
  /** Where this store points, for messages (e.g. `s3://bucket/prefix/`). */
  readonly location: string;
  putFile(key: string, file: string): Promise<void>;
  putBytes(key: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  getFile(key: string, file: string): Promise<boolean>;
  /** The whole object in memory, or null when the key does not exist: for small objects only. */
  getBytes(key: string): Promise<Buffer | null>;
  delete(keys: readonly string[]): Promise<void>;
  list(prefix: string): Promise<StoredObject[]>;
}

export interface StoredObject {
  key: string;
  bytes: number;
  lastModified: Date | undefined;
}

export type StoreOperation = 'upload' | 'download' | 'delete' | 'list';

export class BackupStoreError extends Error {
  override name = 'BackupStoreError';
  readonly operation: StoreOperation;
  readonly key: string;

  constructor(operation: StoreOperation, key: string, message: string, cause?: unknown) {
    super(`backup: ${operation} of ${key}: ${message}`, {cause});
    this.operation = operation;
    this.key = key;
  }
}

export async function putJSON(store: ObjectStore, key: string, value: unknown): Promise<void> {
  await store.putBytes(key, Buffer.from(JSON.stringify(value, null, 2)), 'application/json');
}

/** The object parsed as JSON (not validated), or undefined when the key does not exist. */
export async function getJSON(store: ObjectStore, key: string): Promise<unknown> {
  const bytes = await store.getBytes(key);
  if (bytes === null) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (e) {
    throw new SyntaxError(`${store.location}${key} is not JSON: ${(e as Error).message}`);
  }
}
