import {startApiServer} from './api-server.js';

/**
 * The API server as its own process, as a Zero app deploys it: `ZERO_UPSTREAM_DB` is the app's
 * Postgres, `PORT` where it listens (default 4850). SIGTERM or SIGINT stops it.
 *
 * In this repository `@rocicorp/zero` is 0.25.9 (zcache's tests use it); the app's tsconfig maps it
 * to 1.9.0, so run this with tsx reading that tsconfig, as the demo runner does:
 * `TSX_TSCONFIG_PATH=examples/issue-tracker/tsconfig.json npx tsx examples/issue-tracker/server/main.ts`.
 */
const databaseURL = process.env.ZERO_UPSTREAM_DB;
if (!databaseURL) throw new Error('ZERO_UPSTREAM_DB must name the app’s Postgres');
const api = await startApiServer({databaseURL, port: Number(process.env.PORT ?? 4850)});
process.stdout.write(`api server listening on http://127.0.0.1:${api.port}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void api.close().then(() => process.exit(0)));
}
