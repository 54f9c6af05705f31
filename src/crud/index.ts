/**
 * crud/: legacy CRUD mutations (`z.mutate.<table>.insert/upsert/update/delete`, fact sheet §7.6),
 * which zcache applies to upstream Postgres itself: the op statements, the write permissions
 * checked on the replica, the per-group rate limit, and the transaction that confirms each
 * mutation exactly once.
 */
export {CrudMutations, type CrudMutationsOptions} from './crud-mutations.js';
export {MutationRateLimit} from './mutation-rate-limit.js';
