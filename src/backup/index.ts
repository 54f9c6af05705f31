/**
 * backup/: replica snapshots to and from S3 for multi-node deployments. (Not built yet.)
 */
export {};
