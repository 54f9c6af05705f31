/**
 * protocol/: every wire message as a type or strict schema — the ZQL AST, the sync protocol (up and
 * down, errors, connect), the change stream — and query hashing. The only place untrusted bytes
 * become typed values.
 */
export {parseAST, type AST} from './ast.js';
export {parseUpstreamMessage, parseUpstreamText} from './sync-up.js';
export {ProtocolError} from './sync-errors.js';
