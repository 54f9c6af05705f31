import type {CrudMutations} from '../crud/index.js';
import type {ApiServerAuth} from '../custom/api-server-call.js';
import type {PushForwarder} from '../custom/push-forwarder.js';
import {ProtocolError} from '../protocol/sync-errors.js';
import type {CustomMutation, PushBody} from '../protocol/sync-up-push.js';
import type {Logger} from '../shared/log.js';
import type {MutationResults} from './mutation-results.js';

/**
 * The write side of one client group, as its client connections see it (fact sheet §1.7, §7.4):
 * `push` checks the push belongs to the group, forwards custom mutations to the API server (not
 * awaited: their outcomes come back through replication) and applies legacy CRUD mutations one
 * after another (awaited, so a client's mutations apply in the order it sent them);
 * `acknowledge` deletes mutation results the client has applied.
 */
export class GroupWrites {
  readonly #clientGroupID: string;
  readonly #pusher: PushForwarder;
  /** Undefined when legacy CRUD mutations are disabled (ZERO_ENABLE_CRUD_MUTATIONS=false). */
  readonly #crud: CrudMutations | undefined;
  readonly #results: MutationResults;
  readonly #log: Logger;

  constructor(
    clientGroupID: string,
    pusher: PushForwarder,
    crud: CrudMutations | undefined,
    results: MutationResults,
    log: Logger,
  ) {
    this.#clientGroupID = clientGroupID;
    this.#pusher = pusher;
    this.#crud = crud;
    this.#results = results;
    this.#log = log;
  }

  /** The `userPushURL` of an initConnection (the group's first one is used). */
  useClientURL(url: string | undefined): void {
    this.#pusher.useClientURL(url);
  }

  /** Returns the transient errors (MutationFailed, MutationRateLimited) to send the client. */
  async push(body: PushBody, auth: ApiServerAuth): Promise<ProtocolError[]> {
    if (body.clientGroupID !== this.#clientGroupID) {
      throw ProtocolError.of(
        'InvalidPush',
        `A push for client group ${body.clientGroupID} arrived on a connection of client group ${this.#clientGroupID}`,
      );
    }
    const crud = this.#crud;
    if (!crud && body.mutations.some((m) => m.type === 'crud')) {
      throw ProtocolError.of(
        'InvalidPush',
        'Support for legacy CRUD mutations is disabled on this server ' +
          '(ZERO_ENABLE_CRUD_MUTATIONS=false): use custom mutators.',
      );
    }
    const custom = body.mutations.filter((m): m is CustomMutation => m.type === 'custom');
    if (custom.length) this.#pusher.enqueue({...body, mutations: custom}, auth);
    const errors: ProtocolError[] = [];
    for (const m of body.mutations) {
      if (m.type !== 'crud' || !crud) continue;
      const error = await crud.process(m, auth.authData, body.schemaVersion);
      if (error) errors.push(error);
    }
    return errors;
  }

  /** Deletes the client's mutation results up to `upTo`; a failure is logged, not fatal. */
  async acknowledge(clientID: string, upTo: number): Promise<void> {
    await this.#results.acknowledge(clientID, upTo).catch((e: Error) => {
      this.#log.warn(`could not delete acknowledged mutation results of ${clientID}: ${e.message}`);
    });
  }

  async deleteClients(clientIDs: readonly string[]): Promise<void> {
    await this.#results.deleteClients(clientIDs).catch((e: Error) => {
      this.#log.warn(`could not delete the mutation results of deleted clients: ${e.message}`);
    });
  }
}
