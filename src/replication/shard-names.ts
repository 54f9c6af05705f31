/**
 * Names in upstream Postgres that the app's API server and the Zero client rely on (fact sheet §4.2).
 * `S` = `{app}_{shard}`.
 */
export interface ShardId {
  appID: string;
  shardNum: number;
}

export const appSchema = ({appID}: ShardId) => appID;
export const shardSchema = ({appID, shardNum}: ShardId) => `${appID}_${shardNum}`;
export const defaultPublication = ({appID, shardNum}: ShardId) => `_${appID}_public_${shardNum}`;
export const metadataPublication = ({appID, shardNum}: ShardId) => `_${appID}_metadata_${shardNum}`;
export const slotPrefix = (s: ShardId) => `${shardSchema(s)}_`;
export const newSlotName = (s: ShardId, now = Date.now()) => `${slotPrefix(s)}${now}`;
/** Schema of the change log in ZERO_CHANGE_DB. */
export const cdcSchema = (s: ShardId) => `${shardSchema(s)}/cdc`;
/** Prefix of the logical messages the DDL event triggers emit. */
export const ddlMessagePrefix = ({appID, shardNum}: ShardId) => `${appID}/${shardNum}`;

/** A quoted Postgres identifier. */
export function pgIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}
