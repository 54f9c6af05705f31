import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {startDemo} from './demo.js';

/**
 * `npm run demo`: the issue tracker on zcache, in one command. DEMO_UPSTREAM_DB uses your own
 * Postgres (wal_level=logical) instead of the embedded one; ports are 4848 (zcache), 4850 (API
 * server), 5173 (front end), 5499 (embedded Postgres), or DEMO_{ZCACHE,API,WEB,PG}_PORT.
 */
const dataDir =
  process.env.DEMO_DATA_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '.demo');
const port = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
const demo = await startDemo({
  dataDir,
  upstreamUrl: process.env.DEMO_UPSTREAM_DB,
  zcachePort: port('DEMO_ZCACHE_PORT'),
  apiPort: port('DEMO_API_PORT'),
  webPort: port('DEMO_WEB_PORT'),
  pgPort: port('DEMO_PG_PORT'),
});
process.stderr.write(
  `\nThe demo is running. Open ${demo.url} (add ?user=grace in a second tab to be someone else).\n` +
    `zcache: ${demo.zcacheUrl}. Ctrl-C stops everything.\n\n`,
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write('stopping the demo…\n');
    void demo.stop().then(() => process.exit(0));
  });
}
