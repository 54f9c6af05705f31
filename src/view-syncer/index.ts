/**
 * view-syncer/: client groups. Connection handling, the CVR store, the pipeline driver, the poke
 * builder, TTL and ownership (Rehome). (Not built yet: see the sync-server issue.)
 */
export {};
