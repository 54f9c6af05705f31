/**
 * replica/: the SQLite replica file. Its layout (tables named like upstream, `_0_version`, declared
 * types with attributes), its meta tables, and the append-only per-row change list that
 * view-syncers advance from.
 */
export {openReplica, readStateVersion, type ReplicaDb} from './replica-file.js';
export {readRowChanges, type RowChange} from './row-changes.js';
export {RowChangeWindow, type WindowedChanges} from './row-change-window.js';
