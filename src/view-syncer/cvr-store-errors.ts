/**
 * Why the CVR store refused a load or a flush. The view-syncer maps them to protocol errors:
 * OwnershipError and ConcurrentModificationError → Rehome (the group stops; a new connection
 * loads the CVR again), ClientGroupPurgedError → ClientNotFound.
 */

/** Another task holds the client group: it received a client connection more recently (§3.4). */
export class OwnershipError extends Error {
  override readonly name = 'OwnershipError';
  readonly clientGroupID: string;
  readonly owner: string | null;
  readonly grantedAt: number | null;
  readonly lastConnectTime: number;

  constructor(
    clientGroupID: string,
    owner: string | null,
    grantedAt: number | null,
    lastConnectTime: number,
  ) {
    super(
      `CVR of client group ${clientGroupID} is owned by ${owner ?? '(none)'} since ` +
        `${isoTime(grantedAt)}, later than this task's last connect at ${isoTime(lastConnectTime)}`,
    );
    this.clientGroupID = clientGroupID;
    this.owner = owner;
    this.grantedAt = grantedAt;
    this.lastConnectTime = lastConnectTime;
  }
}

/** The CVR changed since it was loaded: someone else wrote it, or this task lost track. */
export class ConcurrentModificationError extends Error {
  override readonly name = 'ConcurrentModificationError';
  readonly clientGroupID: string;
  readonly expectedVersion: string | null;
  readonly actualVersion: string | null;

  constructor(clientGroupID: string, expectedVersion: string | null, actualVersion: string | null) {
    super(
      `CVR of client group ${clientGroupID} was concurrently modified: expected version ` +
        `${expectedVersion ?? '(none: a new CVR)'}, found ${actualVersion ?? '(none)'}`,
    );
    this.clientGroupID = clientGroupID;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** The client group was garbage collected (§3.5); its clients must start over. */
export class ClientGroupPurgedError extends Error {
  override readonly name = 'ClientGroupPurgedError';
  readonly clientGroupID: string;

  constructor(clientGroupID: string) {
    super(`CVR of client group ${clientGroupID} has been purged due to inactivity`);
    this.clientGroupID = clientGroupID;
  }
}

function isoTime(ms: number | null): string {
  return ms === null ? '(never)' : new Date(ms).toISOString();
}
