import type postgres from 'postgres';
import WebSocket from 'ws';
import {encodeSecProtocols} from '../src/protocol/sync-connect.js';
import {summarize, type Summary} from './percentiles.js';

/**
 * Client groups as raw sync sockets, each watching one row of a `cell (id, seq)` table, and a
 * writer that bumps one watched row at a time: commit-to-poke latency is the time from the
 * writer's commit returning to the row's new `seq` arriving in a poke. Raw sockets stand in for
 * clients so that a thousand of them fit in the benchmark process (the real client is measured in
 * e2e-sync.ts).
 */
export const CELL_SCHEMA = {
  tables: {
    cell: {columns: {id: {type: 'number'}, seq: {type: 'number'}}, primaryKey: ['id']},
    heavy: {columns: {id: {type: 'number'}, v: {type: 'string'}}, primaryKey: ['id']},
  },
};

export const ALLOW_ALL = {row: {select: [['allow', {type: 'and', conditions: []}]]}};

export interface Watcher {
  ws: WebSocket;
  id: number;
  /** seq → when the poke carrying it ended (when a client applies it). */
  seen: Map<number, number>;
}

export function openGroup(server: string, group: string, query: object): WebSocket {
  const init = [
    'initConnection',
    {desiredQueriesPatch: [{op: 'put', hash: 'q', ast: query}], clientSchema: CELL_SCHEMA},
  ];
  const q = `clientID=${group}-c&clientGroupID=${group}&ts=1&lmid=0`;
  const ws = new WebSocket(`${server.replace('http', 'ws')}/sync/v44/connect?${q}`, [
    encodeSecProtocols({initConnectionMessage: init as never}),
  ]);
  ws.on('error', () => {});
  return ws;
}

/** Opens a group watching `cell` row `id`; resolves after its first poke. */
export function watchCell(server: string, id: number, prefix = 'watch'): Promise<Watcher> {
  const ws = openGroup(server, `${prefix}-${id}`, {
    table: 'cell',
    where: {
      type: 'simple',
      op: '=',
      left: {type: 'column', name: 'id'},
      right: {type: 'literal', value: id},
    },
  });
  const w: Watcher = {ws, id, seen: new Map()};
  // A row counts as seen when its poke ends (the client applies a poke only at its pokeEnd).
  let inPoke: number[] = [];
  return new Promise((resolve, reject) => {
    ws.once('close', (code) => reject(new Error(`watcher ${id} closed (${code}) before its poke`)));
    ws.on('message', (d) => {
      const [type, body] = JSON.parse(String(d)) as [
        string,
        {rowsPatch?: {value?: {seq: number}}[]; cancel?: boolean},
      ];
      if (type === 'pokePart') {
        for (const p of body.rowsPatch ?? []) if (p.value) inPoke.push(p.value.seq);
      } else if (type === 'pokeEnd') {
        const at = performance.now();
        if (!body.cancel) for (const s of inPoke) w.seen.set(s, at);
        inPoke = [];
        resolve(w);
      }
    });
  });
}

/**
 * Opens `count` watchers of rows `firstId`, `firstId + 1`, …, `batch` at a time (a thousand at
 * once would time out their handshakes).
 */
export async function watchCells(
  server: string,
  count: number,
  firstId = 1,
  batch = 50,
): Promise<Watcher[]> {
  const out: Watcher[] = [];
  for (let i = 0; i < count; i += batch) {
    const ids = Array.from({length: Math.min(batch, count - i)}, (_, j) => firstId + i + j);
    out.push(...(await Promise.all(ids.map((id) => watchCell(server, id)))));
  }
  return out;
}

let seq = 0;

/**
 * `commits` updates, one every `intervalMs`, each to the row of the next watcher round-robin;
 * then waits for stragglers and summarizes commit-to-poke latencies (missing pokes are counted).
 */
export async function measureCommitToPoke(
  sql: postgres.Sql,
  watchers: readonly Watcher[],
  commits: number,
  intervalMs = 10,
): Promise<Summary & {missing: number}> {
  const made: {seq: number; w: Watcher; at: number}[] = [];
  for (let i = 0; i < commits; i++) {
    const w = watchers[i % watchers.length]!;
    const s = ++seq;
    await sql`UPDATE cell SET seq = ${s} WHERE id = ${w.id}`;
    made.push({seq: s, w, at: performance.now()});
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await new Promise((r) => setTimeout(r, 2000));
  return pokeLatencies(made);
}

/**
 * Commit-to-poke latency of each commit: from the commit returning to the first poke carrying
 * that seq of the row or a later one (a server may coalesce commits into one poke, which delivers
 * them all). Commits never delivered count as missing.
 */
export function pokeLatencies(
  made: readonly {seq: number; w: Watcher; at: number}[],
): Summary & {missing: number} {
  const latencies = made.map((c) => firstSeenAtOrAfter(c.w, c.seq) - c.at);
  const found = latencies.filter(Number.isFinite);
  return {...summarize(found), missing: latencies.length - found.length};
}

function firstSeenAtOrAfter(w: Watcher, s: number): number {
  let first = Infinity;
  for (const [seen, at] of w.seen) if (seen >= s && at < first) first = at;
  return first;
}
