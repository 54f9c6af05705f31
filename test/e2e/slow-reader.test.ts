import {afterAll, beforeAll, expect, test} from 'vitest';
import WebSocket from 'ws';
import {encodeSecProtocols} from '../../src/protocol/sync-connect.js';
import {MAX_UNREAD_BYTES} from '../../src/view-syncer/client-connection.js';
import {eventually} from '../support/eventually.js';
import {startInProcessSync, type InProcessSync} from '../support/in-process-sync.js';
import {startHarness, type ReplicationHarness} from '../replication/harness.js';

/**
 * A client that never reads its socket cannot make the server buffer without bound: once it has
 * left MAX_UNREAD_BYTES unread, it is dropped (and would catch up from its cookie on reconnect).
 */
let h: ReplicationHarness;
let sync: InProcessSync;
const logLines: string[] = [];

beforeAll(async () => {
  h = await startHarness(`CREATE TABLE blob (id int PRIMARY KEY, v text NOT NULL);`);
  await h.db
    .sql`UPDATE zero.permissions SET permissions = ${h.db.sql.json({tables: {blob: {row: {select: [['allow', {type: 'and', conditions: []}]]}}}} as never)}`;
  sync = await startInProcessSync(h, {write: (l) => logLines.push(l)});
});
afterAll(async () => {
  await sync?.close();
  await h?.close();
});

test('a client that stops reading is dropped once its unread pokes pass the bound', async () => {
  const init = [
    'initConnection',
    {
      desiredQueriesPatch: [
        {op: 'put', hash: 'all', ast: {table: 'blob', orderBy: [['id', 'asc']]}},
      ],
      clientSchema: {
        tables: {blob: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']}},
      },
    },
  ];
  const q = 'clientID=slow&clientGroupID=slow-group&ts=1&lmid=0';
  const ws = new WebSocket(`${sync.url.replace('http', 'ws')}/sync/v44/connect?${q}`, [
    encodeSecProtocols({initConnectionMessage: init as never}),
  ]);
  ws.on('error', () => {});
  const dropped = () =>
    logLines.some((l) => /dropping a client that left \d+ bytes unread/.test(l));
  await new Promise<void>((r) => ws.once('message', () => r()));
  // Stop reading: the server's writes pile up in its buffers.
  (ws as unknown as {_socket: {pause(): void}})._socket.pause();
  const rowBytes = 1024 * 1024;
  const rows = Math.ceil((MAX_UNREAD_BYTES * 2) / rowBytes);
  for (let i = 0; i < rows && !dropped(); i++) {
    await h.db.sql`INSERT INTO blob VALUES (${i}, ${'x'.repeat(rowBytes)})`;
  }
  // (The client cannot see the close while it does not read; the server's side is what is bounded.)
  await eventually(() => expect(dropped()).toBe(true), 30_000);
  ws.terminate();
}, 90_000);
