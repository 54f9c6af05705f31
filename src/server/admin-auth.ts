import type http from 'node:http';
import {passwordMatches} from '../shared/password-match.js';

/**
 * Admin access to /statz (fact sheet §9.1): HTTP Basic auth whose password (user ignored) equals
 * ZERO_ADMIN_PASSWORD, compared in constant time. Whenever a password is configured it is required,
 * in development mode too; with none configured, only development mode is let in, and only when
 * no password is sent.
 */
export interface AdminAuthConfig {
  password: string | undefined;
  development: boolean;
}

export function isAdmin(req: http.IncomingMessage, cfg: AdminAuthConfig): boolean {
  const header = req.headers.authorization;
  const supplied = basicPassword(header);
  if (cfg.password) return supplied !== undefined && passwordMatches(supplied, cfg.password);
  return cfg.development && supplied === undefined;
}

function basicPassword(header: string | undefined): string | undefined {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : decoded;
}

export function refuseAdmin(res: http.ServerResponse): void {
  res
    .writeHead(401, {
      'WWW-Authenticate': 'Basic realm="Statz Protected Area"',
      'Content-Type': 'text/plain',
    })
    .end('Unauthorized');
}
