import type http from 'node:http';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import {freePort} from './ports.js';

/**
 * A real S3-compatible server (s3rver) on 127.0.0.1 for tests, storing objects under a temporary
 * folder. `stop()` makes it unreachable (connections are refused) and `start()` brings it back on
 * the same port with the same objects, so tests can take S3 away for a while.
 *
 * s3rver keeps each object as a plain file (`objectFile(key)`), which lets a test corrupt what is
 * stored without going through S3.
 */
export interface TestS3Server {
  endpoint: string;
  bucket: string;
  /** `s3://<bucket>/<prefix>`, as ZERO_LITESTREAM_BACKUP_URL. */
  backupURL: string;
  /** The key prefix that backupURL names (ends with '/'). */
  prefix: string;
  /**
   * Credentials and region that s3rver accepts, as the AWS SDK reads them from the environment
   * (and the SDK's notice about Node 20 switched off, which would otherwise open every test log).
   */
  env: Record<string, string>;
  /** `s3://<bucket>/<prefix>` for another prefix in the same bucket (isolates tests). */
  backupURLFor(prefix: string): string;
  /** The file in which s3rver keeps the object at `key` (from the bucket's root). */
  objectFile(bucketKey: string): string;
  running(): boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its folder. */
  dispose(): Promise<void>;
}

export async function startS3Server(
  opts: {bucket?: string; prefix?: string} = {},
): Promise<TestS3Server> {
  const bucket = opts.bucket ?? 'zcache-test';
  const prefix = opts.prefix ?? 'replica/backups/';
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-test-s3-'));
  const port = await freePort();
  let server: S3rver | undefined;

  const start = async () => {
    if (server) return;
    const s = new S3rver({
      address: '127.0.0.1',
      port,
      directory: dir,
      silent: true,
      configureBuckets: [{name: bucket, configs: []}],
    });
    await s.run();
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = s.close();
    // close() alone waits for the SDK's kept-alive sockets; a stopped S3 should refuse at once.
    (s as unknown as {httpServer?: http.Server}).httpServer?.closeAllConnections();
    await closed;
  };
  await start();

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    backupURL: `s3://${bucket}/${prefix}`,
    prefix,
    env: {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    backupURLFor: (p) => `s3://${bucket}/${p}`,
    objectFile: (key) => path.join(dir, bucket, `${key}._S3rver_object`),
    running: () => server !== undefined,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, {recursive: true, force: true});
    },
  };
}
