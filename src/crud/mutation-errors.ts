import type {Logger} from '../shared/log.js';
import {internalErrorMessage, newErrorId} from '../shared/error-id.js';

/**
 * What a client is told when the ops of its CRUD mutation fail. Only two kinds of failure are
 * described to it, because only their text is made of what the client sent and what the app's
 * schema names:
 *
 * - a MutationInputError: zcache refused the ops before running them (unknown table or column, a
 *   value of the wrong kind, a missing key);
 * - a Postgres data exception (SQLSTATE class 22) or integrity constraint violation (class 23),
 *   told by its message alone (e.g. `new row for relation "issue" violates check constraint
 *   "issue_title_check"`). The error's DETAIL ("Failing row contains (…)", "Key (id)=(…)") holds
 *   row values and is never sent.
 *
 * Anything else (a lost connection naming host and port, a refused login naming the role, a
 * trigger's exception quoting other rows) goes to the log under a short random id, and the client
 * gets that id only. (An app trigger that raises its own text with a class 22 or 23 SQLSTATE has
 * chosen to tell the client that text.)
 */
export class MutationInputError extends Error {}

const CLIENT_DESCRIBED_SQLSTATE = /^2[23][0-9A-Z]{3}$/;

export function describeFailureToClient(e: unknown, log: Logger, context: string): string {
  if (e instanceof MutationInputError) return e.message;
  if (isPostgresError(e) && CLIENT_DESCRIBED_SQLSTATE.test(e.code)) {
    log.info(`${context}: ${e.message}`, withDetail(e));
    // The first line only: Postgres keeps DETAIL and HINT in their own fields, but a message
    // raised by a trigger may carry more lines of its own.
    return e.message.split('\n', 1)[0]!;
  }
  return internalErrorMessage(
    'zcache could not apply the mutation',
    logUnderErrorId(e, log, context),
  );
}

/** Logs the failure with its details under a new error id, and returns the id for the client. */
export function logUnderErrorId(e: unknown, log: Logger, context: string): string {
  const id = newErrorId();
  log.warn(`${context} (error id ${id}):`, e, withDetail(e));
  return id;
}

interface PostgresErrorFields {
  readonly message: string;
  readonly code: string;
  readonly severity: string;
  readonly detail?: string;
}

/** An error Postgres itself sent (postgres.js PostgresError), not a connection failure. */
function isPostgresError(e: unknown): e is PostgresErrorFields {
  const f = e as Partial<PostgresErrorFields> | null;
  return (
    e instanceof Error &&
    typeof f?.code === 'string' &&
    typeof f.severity === 'string' &&
    typeof f.message === 'string'
  );
}

function withDetail(e: unknown): Record<string, string> {
  const detail = (e as {detail?: unknown} | null)?.detail;
  return typeof detail === 'string' ? {detail} : {};
}
