/**
 * bin/: the `zero-cache` (alias `zcache`) entry point: parse config, pick the role, start it.
 * Nothing here is imported by other folders.
 */
export {};
