import postgres from 'postgres';

/**
 * Connections to upstream Postgres. Every session that reads row values (COPY, replication) runs with
 * UTC and ISO dates so that the text decoders see one format.
 */
export const TEXT_FORMAT_SESSION = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'iso_8601',
  extra_float_digits: '3',
} as const;

export function connectPostgres(
  url: string,
  opts: {max?: number; replication?: boolean; applicationName?: string} = {},
): postgres.Sql {
  return postgres(url, {
    max: opts.max ?? 5,
    onnotice: () => {},
    connection: {
      application_name: opts.applicationName ?? 'zcache',
      ...TEXT_FORMAT_SESSION,
      ...(opts.replication ? {replication: 'database'} : {}),
    },
    // A replication session cannot run the catalog query postgres.js uses to learn array types.
    fetch_types: !opts.replication,
  });
}

/** Describes where a URL points without its password, for error messages and logs. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return '(malformed URL)';
  }
}

/** Rewrites connection failures into messages that say what to check. */
export function explainConnectionError(e: unknown, what: string, url: string): Error {
  const err = e as {code?: string; message?: string};
  const where = `${what} (${describeUrl(url)})`;
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'CONNECT_TIMEOUT':
      return new Error(
        `cannot reach ${where}: ${err.code}. Is Postgres running, and is the URL right?`,
      );
    case '28P01':
    case '28000':
      return new Error(
        `${where} refused the login: ${err.message}. Check the user and password in the URL.`,
      );
    case '3D000':
      return new Error(`${where}: ${err.message}. Create the database or fix the URL.`);
    default:
      return new Error(`${where}: ${err.message ?? String(e)}`);
  }
}
