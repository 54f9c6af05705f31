import {afterAll, beforeAll, expect, test} from 'vitest';
import {eventually} from '../support/eventually.js';
import {startInProcessSync, type InProcessSync} from '../support/in-process-sync.js';
import {connectRawSync} from '../support/raw-sync-socket.js';
import {longScanKeepingNothing} from '../support/long-scan-query.js';
import {startHarness, type ReplicationHarness} from '../replication/harness.js';

/**
 * A view-syncer that stops (a graceful drain, or its node failing) while a client's hydration is
 * in flight abandons the step and closes the client's socket cleanly, so the client reconnects
 * elsewhere. What it must not do is answer `Internal` (the Zero client, 0.25 and 1.x, treats that
 * as fatal and stops reconnecting until the app intervenes) or log the abandoned step as a failure
 * with a stack and an error id: nothing failed, and an operator reading a rolling restart's logs
 * would go looking for a bug.
 */
const ROWS = 150_000;
let h: ReplicationHarness;
let sync: InProcessSync;
const logLines: string[] = [];

beforeAll(async () => {
  h = await startHarness(`
    CREATE TABLE heavy (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO heavy SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g;`);
  await h.db
    .sql`UPDATE zero.permissions SET permissions = ${h.db.sql.json({tables: {heavy: {row: {select: [['allow', {type: 'and', conditions: []}]]}}}} as never)}`;
  sync = await startInProcessSync(h, {write: (line) => logLines.push(line)});
}, 120_000);

afterAll(async () => {
  await sync?.close();
  await h?.close();
});

const schema = {
  tables: {heavy: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']}},
};
const matchesNothing = longScanKeepingNothing('heavy');

test('a view-syncer stopped mid-hydration closes the client cleanly, with no Internal error and nothing logged as failed', async () => {
  const c = connectRawSync(
    sync.url,
    {clientID: 'c1', clientGroupID: 'stopped-group'},
    {desiredQueriesPatch: [{op: 'put', hash: 'q', ast: matchesNothing}], clientSchema: schema},
  );
  let stopping: Promise<void> | undefined;
  // `connected` is sent once the group admitted the client, just before its hydration starts.
  c.ws.on('message', () => {
    if (c.messages.at(-1)?.[0] === 'connected') stopping ??= sync.handler.drain();
  });
  await eventually(() => expect(c.closed()).toBe(true), 30_000);
  await stopping;
  // The step is abandoned at its next time slice, after the close: wait for its report.
  await eventually(() =>
    expect(logLines.some((l) => /step abandoned|client failed/.test(l))).toBe(true),
  );
  expect([1000, 1005]).toContain(c.closeCode()); // a clean close: the client reconnects
  // The hydration was abandoned, not finished: nothing but `connected` reached the client.
  expect(c.messages.map((m) => m[0])).toEqual(['connected']);
  expect(logLines.filter((l) => /^(ERROR|WARN)/.test(l))).toEqual([]);
}, 60_000);
