import type {PermissionRules} from '../protocol/permission-rules.js';
import {cachedStatement, type ReplicaDb} from './replica-file.js';

/** The rules in the replica's copy of `{app}.permissions`; null when none are deployed. */
export function readPermissionRules(db: ReplicaDb, appID: string): PermissionRules | null {
  const row = cachedStatement(db, `SELECT "permissions" FROM "${appID}.permissions"`).get() as
    {permissions: string | null} | undefined;
  if (!row?.permissions) return null;
  return JSON.parse(row.permissions) as PermissionRules;
}
