import type {TestS3Server} from './s3-server.js';

/**
 * The environment of a replication-manager of a multi-node deployment: no sync workers, its
 * change-streamer on `port` requiring `secret`, backing its replica up to `s3` every second.
 */
export function managerEnv(s3: TestS3Server, port: number, secret: string): Record<string, string> {
  return {
    ZERO_NUM_SYNC_WORKERS: '0',
    ZERO_CHANGE_STREAMER_PORT: String(port),
    ZERO_LITESTREAM_BACKUP_URL: s3.backupURL,
    ZERO_LITESTREAM_ENDPOINT: s3.endpoint,
    ZCACHE_BACKUP_INTERVAL_MS: '1000',
    ZCACHE_CHANGE_STREAMER_SECRET: secret,
    ...s3.env,
  };
}

/**
 * The environment of a view-syncer that follows the manager whose change-streamer is on `port`
 * (with `secret`) and restores its replica from `s3`.
 */
export function viewSyncerEnv(
  s3: TestS3Server,
  port: number,
  secret: string,
): Record<string, string> {
  return {
    ZERO_CHANGE_STREAMER_URI: `ws://127.0.0.1:${port}`,
    ZCACHE_CHANGE_STREAMER_SECRET: secret,
    ZERO_LITESTREAM_ENDPOINT: s3.endpoint,
    ...s3.env,
  };
}
