/**
 * shared/: small pure helpers used by several folders — lexi versions and LSNs, bigint JSON,
 * UTF-8 string order, hashes, logging. Nothing with state.
 */
export {versionFromLexi, versionToLexi, type LexiVersion} from './lexi-version.js';
export {createLogger, type Logger} from './log.js';
