import type {ApiServerAuth} from '../custom/api-server-call.js';
import type {PushForwarder} from '../custom/push-forwarder.js';
import {ProtocolError} from '../protocol/sync-errors.js';
import type {CustomMutation, PushBody} from '../protocol/sync-up-push.js';
import type {Logger} from '../shared/log.js';
import type {MutationResults} from './mutation-results.js';

/**
 * The write side of one client group, as its client connections see it (fact sheet §1.7, §7.4):
 * `push` checks the push belongs to the group and forwards custom mutations to the API server;
 * `acknowledge` deletes mutation results the client has applied. Legacy CRUD mutations are
 * refused with MutationFailed (zcache does not apply them yet).
 */
export class GroupWrites {
  readonly #clientGroupID: string;
  readonly #pusher: PushForwarder;
  readonly #results: MutationResults;
  readonly #log: Logger;

  constructor(clientGroupID: string, pusher: PushForwarder, results: MutationResults, log: Logger) {
    this.#clientGroupID = clientGroupID;
    this.#pusher = pusher;
    this.#results = results;
    this.#log = log;
  }

  /** The `userPushURL` of an initConnection (the group's first one is used). */
  useClientURL(url: string | undefined): void {
    this.#pusher.useClientURL(url);
  }

  push(body: PushBody, auth: ApiServerAuth): void {
    if (body.clientGroupID !== this.#clientGroupID) {
      throw ProtocolError.of(
        'InvalidPush',
        `A push for client group ${body.clientGroupID} arrived on a connection of client group ${this.#clientGroupID}`,
      );
    }
    const custom = body.mutations.filter((m): m is CustomMutation => m.type === 'custom');
    if (custom.length) this.#pusher.enqueue({...body, mutations: custom}, auth);
    if (custom.length < body.mutations.length) {
      throw ProtocolError.of(
        'MutationFailed',
        'zcache does not apply legacy CRUD mutations (z.mutate.<table>.insert/update/delete); ' +
          'write through custom mutators and ZERO_MUTATE_URL instead',
      );
    }
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
