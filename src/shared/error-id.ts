import {randomBytes} from 'node:crypto';

/**
 * A short random id that ties a client-facing error to the server log line holding its details.
 * Clients get the id only: details (row values, hosts, stack traces) stay in the log.
 */
export function newErrorId(): string {
  return randomBytes(6).toString('hex');
}

/** The client-facing text for a failure whose details went to the log under `id`. */
export function internalErrorMessage(what: string, id: string): string {
  return `${what} (error id ${id}; the zcache log has the details)`;
}
