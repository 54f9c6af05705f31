import {mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync} from 'node:fs';
import net from 'node:net';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {randomBytes} from 'node:crypto';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {freePort} from '../../test/support/ports.js';
import {startS3Server, type TestS3Server} from '../../test/support/s3-server.js';
import {BackupStoreError, getJSON, putJSON} from './object-store.js';
import {parseBackupURL, S3ObjectStore} from './s3-object-store.js';

let s3: TestS3Server;
let dir: string;
let n = 0;
const stores: S3ObjectStore[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  Object.assign(process.env, s3.env);
  dir = mkdtempSync(path.join(tmpdir(), 'zcache-s3-store-test-'));
});

afterAll(async () => {
  stores.forEach((s) => s.close());
  await s3?.dispose();
  if (dir) rmSync(dir, {recursive: true, force: true});
});

/** A store on a prefix of its own, so tests do not see each other's objects. */
function freshStore(opts: Partial<ConstructorParameters<typeof S3ObjectStore>[0]> = {}) {
  const store = new S3ObjectStore({
    backupURL: s3.backupURLFor(`store-test-${++n}/`),
    endpoint: s3.endpoint,
    ...opts,
  });
  stores.push(store);
  return store;
}

describe('parseBackupURL', () => {
  test('splits bucket and key prefix, the prefix ending with a slash', () => {
    expect(parseBackupURL('s3://my-bucket/zero/replica')).toEqual({
      bucket: 'my-bucket',
      prefix: 'zero/replica/',
    });
    expect(parseBackupURL('s3://my-bucket/zero/replica/')).toEqual({
      bucket: 'my-bucket',
      prefix: 'zero/replica/',
    });
    expect(parseBackupURL('s3://my-bucket')).toEqual({bucket: 'my-bucket', prefix: ''});
  });

  test.each([
    ['https://my-bucket/path', 'only s3:// URLs'],
    ['my-bucket/path', 'only s3:// URLs'],
    ['s3:///path', 'not a valid bucket name'],
    ['s3://b/path', 'not a valid bucket name'],
    ['s3://my bucket/path', 'not a valid bucket name'],
    ['s3://my-bucket/path?region=x', 'query or fragment'],
    ['s3://my-bucket/a/../b', '".." are not allowed'],
  ])('rejects %s with a message naming the variable and the problem', (url, problem) => {
    expect(() => parseBackupURL(url)).toThrow(
      `ZERO_LITESTREAM_BACKUP_URL must look like s3://bucket/path, got ${JSON.stringify(url)}`,
    );
    expect(() => parseBackupURL(url)).toThrow(problem);
  });
});

test('parts in flight are as many as configured, but never more than 256 MiB of them', () => {
  const MiB = 1024 * 1024;
  expect(freshStore({partBytes: 16 * MiB, partConcurrency: 3}).partConcurrency).toBe(3);
  expect(freshStore({partBytes: 16 * MiB, partConcurrency: 48}).partConcurrency).toBe(16);
  expect(freshStore({partBytes: 512 * MiB, partConcurrency: 48}).partConcurrency).toBe(1);
});

test('a malformed endpoint is refused when the store is made', () => {
  expect(() => new S3ObjectStore({backupURL: 's3://bucket/x', endpoint: 'localhost:9000'})).toThrow(
    'ZERO_LITESTREAM_ENDPOINT must be an http:// or https:// URL, got "localhost:9000"',
  );
});

test('bytes put under a key come back, and a missing key reads as null', async () => {
  const store = freshStore();
  await store.putBytes('a/b.txt', Buffer.from('hello'));
  expect((await store.getBytes('a/b.txt'))?.toString()).toBe('hello');
  expect(await store.getBytes('a/missing.txt')).toBeNull();
});

test('JSON put under a key comes back; a missing key reads as undefined', async () => {
  const store = freshStore();
  await putJSON(store, 'm.json', {format: 1, list: [1, 2]});
  expect(await getJSON(store, 'm.json')).toEqual({format: 1, list: [1, 2]});
  expect(await getJSON(store, 'nothing.json')).toBeUndefined();
});

test('a file larger than one part goes up in parts and downloads byte for byte', async () => {
  const store = freshStore({partBytes: 5 * 1024 * 1024});
  const src = path.join(dir, 'big.bin');
  const content = randomBytes(11 * 1024 * 1024 + 123);
  writeFileSync(src, content);
  await store.putFile('big.bin', src);
  const dst = path.join(dir, 'big.copy');
  expect(await store.getFile('big.bin', dst)).toBe(true);
  expect(readFileSync(dst).equals(content)).toBe(true);
});

test('downloading a missing key returns false and creates no file', async () => {
  const store = freshStore();
  const dst = path.join(dir, 'never.bin');
  expect(await store.getFile('no/such/key', dst)).toBe(false);
  expect(existsSync(dst)).toBe(false);
});

test('list returns every key under a prefix, nested ones included, relative to the store', async () => {
  const store = freshStore();
  // Folders holding only folders: what s3rver drops from delimited listings.
  for (const k of [
    'snapshots/a/1.gz',
    'snapshots/a/b/2.gz',
    'snapshots/c/d/e/3.gz',
    'other.json',
  ]) {
    await store.putBytes(k, Buffer.from(k));
  }
  const keys = (await store.list('snapshots/')).map((o) => o.key).sort();
  expect(keys).toEqual(['snapshots/a/1.gz', 'snapshots/a/b/2.gz', 'snapshots/c/d/e/3.gz']);
  const sizes = (await store.list('other')).map((o) => o.bytes);
  expect(sizes).toEqual(['other.json'.length]);
});

test('delete removes the keys given and accepts keys that do not exist', async () => {
  const store = freshStore();
  await store.putBytes('x/1', Buffer.from('1'));
  await store.putBytes('x/2', Buffer.from('2'));
  await store.delete(['x/1', 'x/never-existed']);
  expect((await store.list('x/')).map((o) => o.key)).toEqual(['x/2']);
});

test('a bucket that does not exist is named in the error', async () => {
  const store = new S3ObjectStore({backupURL: 's3://no-such-bucket/p', endpoint: s3.endpoint});
  stores.push(store);
  const err = await store.getBytes('k').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BackupStoreError);
  expect((err as Error).message).toMatch(
    /^backup: download of k: NoSuchBucket: .* bucket "no-such-bucket" does not exist/,
  );
});

test('an endpoint that refuses connections fails within seconds, saying what to check', async () => {
  const port = await freePort();
  const store = freshStore({endpoint: `http://127.0.0.1:${port}`});
  const started = Date.now();
  const err = await store.putBytes('snapshots/k.gz', Buffer.from('x')).catch((e: unknown) => e);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(err).toBeInstanceOf(BackupStoreError);
  expect((err as Error).message).toContain('backup: upload of snapshots/k.gz: ');
  expect((err as Error).message).toContain(
    `cannot reach http://127.0.0.1:${port} (ECONNREFUSED); check ZERO_LITESTREAM_ENDPOINT`,
  );
});

test('an endpoint that accepts connections but never answers fails after the idle timeout', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const {port} = silent.address() as net.AddressInfo;
  try {
    const store = freshStore({
      endpoint: `http://127.0.0.1:${port}`,
      idleTimeoutMs: 300,
      maxAttempts: 2,
    });
    const started = Date.now();
    const err = await store.getBytes('manifest.json').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(BackupStoreError);
    expect((err as Error).message).toContain('backup: download of manifest.json: ');
    expect((err as Error).message).toContain('cannot reach');
  } finally {
    sockets.forEach((s) => s.destroy());
    silent.close();
  }
});
