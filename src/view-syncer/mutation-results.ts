import type postgres from 'postgres';
import {pgIdent} from '../replication/shard-names.js';

/**
 * The upstream `{app}_{shard}.mutations` rows of one client group (fact sheet §2.8, §7.4): the
 * app's API server writes a row per mutation with an application error; zcache deletes them once
 * the client has acknowledged them (`ackMutationResponses`) or the client is deleted. The deletes
 * replicate back and reach the clients as `mutationsPatch` deletes.
 */
export class MutationResults {
  readonly #sql: postgres.Sql;
  readonly #table: string;
  readonly #clientGroupID: string;

  constructor(upstream: postgres.Sql, shardSchema: string, clientGroupID: string) {
    this.#sql = upstream;
    this.#table = `${pgIdent(shardSchema)}."mutations"`;
    this.#clientGroupID = clientGroupID;
  }

  /** Deletes the client's results up to and including mutation `upTo`. */
  async acknowledge(clientID: string, upTo: number): Promise<void> {
    await this.#sql.unsafe(
      `DELETE FROM ${this.#table}
        WHERE "clientGroupID" = $1 AND "clientID" = $2 AND "mutationID" <= $3`,
      [this.#clientGroupID, clientID, upTo],
      {prepare: true},
    );
  }

  /** Deletes every result of these (deleted) clients. */
  async deleteClients(clientIDs: readonly string[]): Promise<void> {
    if (clientIDs.length === 0) return;
    await this.#sql.unsafe(
      `DELETE FROM ${this.#table} WHERE "clientGroupID" = $1 AND "clientID" = ANY($2::text[])`,
      [this.#clientGroupID, [...clientIDs]],
      {prepare: true},
    );
  }
}
