/**
 * shared/: small helpers used by several folders — lexi versions and LSNs, bigint JSON, UTF-8
 * string order, hashes, logging, back-off, what a lost connection looks like, and Postgres
 * transactions that survive one (pg-transaction.ts). The one piece of state is the process-wide
 * dropped-write signal (postgres-dropped-writes.ts), because the driver defect it answers is
 * process-wide.
 */
export {versionFromLexi, versionToLexi, type LexiVersion} from './lexi-version.js';
export {createLogger, type Logger} from './log.js';
