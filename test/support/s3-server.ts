import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {freePort} from './ports.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-server-child.mjs');

/**
 * A real S3-compatible server (s3rver) on 127.0.0.1 for tests, in a process of its own (so that
 * its failures cannot crash the test run), storing objects under a temporary folder. `stop()` makes it unreachable (connections are refused) and `start()` brings it back on
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
  let server: ChildProcess | undefined;

  const start = async () => {
    if (server) return;
    const child = spawn(process.execPath, [CHILD, String(port), dir, bucket], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`test S3 server exited (code ${code})`)));
      child.stdout!.once('data', () => resolve());
    });
    server = child;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s || s.exitCode !== null) return;
    // Killed, not closed: a stopped S3 refuses connections at once, kept-alive ones included.
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGKILL');
    await exited;
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
    running: () => server !== undefined && server.exitCode === null,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, {recursive: true, force: true});
    },
  };
}
