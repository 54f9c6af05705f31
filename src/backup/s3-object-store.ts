import {createReadStream, createWriteStream} from 'node:fs';
import {unlink} from 'node:fs/promises';
import type {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {Upload} from '@aws-sdk/lib-storage';
import {
  BackupStoreError,
  type ObjectStore,
  type StoredObject,
  type StoreOperation,
} from './object-store.js';

/**
 * The ObjectStore on S3 or an S3-compatible service, at the key prefix of a backup URL
 * (`s3://bucket/some/path`, ZERO_LITESTREAM_BACKUP_URL). Credentials come from the SDK's default
 * provider chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles); the region
 * from AWS_REGION or AWS_DEFAULT_REGION, else us-east-1 (with an explicit endpoint the region
 * only feeds the signature).
 *
 * Every request has bounded connection and idle timeouts and a bounded number of attempts, so an
 * unreachable store fails within seconds instead of hanging a backup or a restore.
 */
export interface S3ObjectStoreOptions {
  /** ZERO_LITESTREAM_BACKUP_URL. */
  backupURL: string;
  /** ZERO_LITESTREAM_ENDPOINT: an S3-compatible service; implies path-style addressing. */
  endpoint?: string | undefined;
  region?: string | undefined;
  connectTimeoutMs?: number;
  /** A socket silent this long fails the request (and lets the SDK retry it). */
  idleTimeoutMs?: number;
  /** Attempts per request, the first included. */
  maxAttempts?: number;
  /** Multipart upload part size (ZERO_LITESTREAM_MULTIPART_SIZE); S3's minimum is 5 MiB. */
  partBytes?: number | undefined;
  /**
   * Parts uploaded at once (ZERO_LITESTREAM_MULTIPART_CONCURRENCY), but never more than fit in
   * MAX_PARTS_IN_MEMORY_BYTES: each part in flight is held in memory, and the shared default
   * (48 parts of 16 MiB) would be 768 MiB.
   */
  partConcurrency?: number | undefined;
}

export interface BackupLocation {
  bucket: string;
  /** The key prefix: empty, or ending with '/'. */
  prefix: string;
}

const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$/;

export function parseBackupURL(url: string): BackupLocation {
  function fail(why: string): never {
    throw new Error(
      `ZERO_LITESTREAM_BACKUP_URL must look like s3://bucket/path, got ${JSON.stringify(url)} (${why})`,
    );
  }
  if (!url.startsWith('s3://')) fail('only s3:// URLs are supported');
  const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(url);
  if (!m) fail('a query or fragment is not supported');
  const bucket = m[1] ?? '';
  if (!BUCKET_NAME.test(bucket)) fail(`"${bucket}" is not a valid bucket name`);
  const segments = (m[2] ?? '').split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..'))
    fail('"." and ".." are not allowed in the path');
  return {bucket, prefix: segments.length ? segments.join('/') + '/' : ''};
}

function parseEndpoint(endpoint: string): string {
  let u: URL | undefined;
  try {
    u = new URL(endpoint);
  } catch {
    // reported below
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new Error(
      `ZERO_LITESTREAM_ENDPOINT must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`,
    );
  }
  return endpoint;
}

const MiB = 1024 * 1024;
/** The most part bodies one upload holds at once, whatever the configured concurrency. */
export const MAX_PARTS_IN_MEMORY_BYTES = 256 * MiB;

export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #endpoint: string | undefined;
  readonly #partBytes: number;
  readonly #partConcurrency: number;

  /** Parts one upload sends at once, after the memory cap. */
  get partConcurrency(): number {
    return this.#partConcurrency;
  }

  constructor(opts: S3ObjectStoreOptions) {
    const {bucket, prefix} = parseBackupURL(opts.backupURL);
    this.#bucket = bucket;
    this.#prefix = prefix;
    this.#endpoint = opts.endpoint === undefined ? undefined : parseEndpoint(opts.endpoint);
    this.#partBytes = Math.max(opts.partBytes ?? 16 * MiB, 5 * MiB);
    this.#partConcurrency = Math.max(
      Math.min(opts.partConcurrency ?? 4, Math.floor(MAX_PARTS_IN_MEMORY_BYTES / this.#partBytes)),
      1,
    );
    this.location = `s3://${bucket}/${prefix}` + (this.#endpoint ? ` at ${this.#endpoint}` : '');
    const config: S3ClientConfig = {
      region:
        opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      maxAttempts: opts.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 3000,
        socketTimeout: opts.idleTimeoutMs ?? 30_000,
      },
      // The SDK's default (checksums on every request, sent as aws-chunked trailers) is refused by
      // many S3-compatible stores; the manifest's sha256 is our end-to-end check anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (this.#endpoint) {
      config.endpoint = this.#endpoint;
      config.forcePathStyle = true;
    }
    this.#client = new S3Client(config);
  }

  /** Closes kept-alive connections; the store must not be used afterwards. */
  close(): void {
    this.#client.destroy();
  }

  async putFile(key: string, file: string): Promise<void> {
    await this.#run('upload', key, async () => {
      // Upload sends a body of at most one part as a single PUT, larger ones in parts; either
      // way the object appears only when complete.
      const upload = new Upload({
        client: this.#client,
        params: {Bucket: this.#bucket, Key: this.#prefix + key, Body: createReadStream(file)},
        partSize: this.#partBytes,
        queueSize: this.#partConcurrency,
        leavePartsOnError: false,
      });
      await upload.done();
    });
  }

  async putBytes(key: string, bytes: Uint8Array, contentType?: string): Promise<void> {
    await this.#run('upload', key, () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#prefix + key,
          Body: bytes,
          ContentType: contentType,
        }),
      ),
    );
  }

  async getFile(key: string, file: string): Promise<boolean> {
    return this.#run('download', key, async () => {
      const body = await this.#getBody(key);
      if (!body) return false;
      try {
        await pipeline(body as Readable, createWriteStream(file));
      } catch (e) {
        await unlink(file).catch(() => {});
        throw e;
      }
      return true;
    });
  }

  async getBytes(key: string): Promise<Buffer | null> {
    return this.#run('download', key, async () => {
      const body = await this.#getBody(key);
      return body ? Buffer.from(await body.transformToByteArray()) : null;
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    // One DeleteObject per key, a few at a time: retention deletes a handful of objects, and
    // the batch DeleteObjects call needs a content checksum that some S3-compatible stores reject.
    const queue = [...keys];
    const worker = async () => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        const k = key;
        await this.#run('delete', k, () =>
          this.#client.send(new DeleteObjectCommand({Bucket: this.#bucket, Key: this.#prefix + k})),
        );
      }
    };
    await Promise.all(Array.from({length: Math.min(4, queue.length)}, worker));
  }

  async list(prefix: string): Promise<StoredObject[]> {
    return this.#run('list', prefix + '*', async () => {
      const out: StoredObject[] = [];
      let token: string | undefined;
      do {
        const res = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            ContinuationToken: token,
          }),
        );
        for (const o of res.Contents ?? []) {
          if (o.Key === undefined) continue;
          out.push({
            key: o.Key.slice(this.#prefix.length),
            bytes: o.Size ?? 0,
            lastModified: o.LastModified,
          });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      return out;
    });
  }

  async #getBody(key: string) {
    try {
      const res = await this.#client.send(
        new GetObjectCommand({Bucket: this.#bucket, Key: this.#prefix + key}),
      );
      return res.Body ?? null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async #run<T>(op: StoreOperation, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw new BackupStoreError(op, key, this.#explain(e), e);
    }
  }

  #explain(e: unknown): string {
    const err = e as {name?: string; code?: string; message?: string; errors?: unknown[]};
    const cause = `${err.name ?? 'Error'}: ${err.message || err.code || String(e)}`;
    const where = this.#endpoint ?? 'AWS S3';
    const code = networkCode(e);
    if (code) {
      return (
        `${cause} — cannot reach ${where} (${code}); check ZERO_LITESTREAM_ENDPOINT, ` +
        `the network, and that the store is up`
      );
    }
    switch (err.name) {
      case 'NoSuchBucket':
        return `${cause} — bucket "${this.#bucket}" does not exist at ${where}`;
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
      case 'AccessDenied':
      case 'ExpiredToken':
      case 'CredentialsProviderError':
        return `${cause} — check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's permissions`;
      case 'PermanentRedirect':
      case 'AuthorizationHeaderMalformed':
        return `${cause} — check AWS_REGION (the bucket is in another region)`;
      default:
        return cause;
    }
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** The network failure behind `e` (Node puts it on the error or, for happy eyeballs, inside). */
function networkCode(e: unknown): string | undefined {
  const err = e as {name?: string; code?: string; errors?: unknown[]};
  if (err?.code && NETWORK_CODES.has(err.code)) return err.code;
  if (err?.name === 'TimeoutError') return 'timeout';
  for (const inner of err?.errors ?? []) {
    const c = networkCode(inner);
    if (c) return c;
  }
  return undefined;
}

function isNotFound(e: unknown): boolean {
  const err = e as {name?: string; $metadata?: {httpStatusCode?: number}};
  if (err?.name === 'NoSuchBucket') return false;
  return err?.name === 'NoSuchKey' || err?.$metadata?.httpStatusCode === 404;
}
