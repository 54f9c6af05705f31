import Database from 'better-sqlite3';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterEach, describe, expect, test} from 'vitest';
import {
  ISSUE_TABLES,
  Recorder,
  ids,
  issueRow,
  operatorWorld,
  type OperatorWorld,
} from '../../../test/support/operator-harness.js';
import {ReplicaSources} from './replica-sources.js';

/** Issues 1, 2, 3. */
function world(): OperatorWorld {
  const w = operatorWorld(ISSUE_TABLES);
  w.seed(...[1, 2, 3].map((id) => w.f.insert('issue', issueRow(id))));
  return w;
}

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, {recursive: true, force: true})));

/** The world's replica copied to a WAL-mode file, with a writer and a read-only reader on it. */
async function onFile(w: OperatorWorld) {
  const dir = mkdtempSync(path.join(tmpdir(), 'zql-sources-'));
  dirs.push(dir);
  const file = path.join(dir, 'replica.db');
  await w.f.db.backup(file);
  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  const reader = new Database(file, {readonly: true});
  return {writer, reader, sources: new ReplicaSources(reader)};
}

function drain<T>(gen: Generator<void, T>): T {
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

describe('readSliced', () => {
  test('keeps one snapshot across its pauses while the replica moves on', async () => {
    const {writer, sources} = await onFile(world());
    const conn = sources.getSource('issue').connect([['id', 'asc']]);
    const reads: unknown[][] = [];
    const work = (function* () {
      reads.push(ids(conn.fetch({})));
      yield;
      reads.push(ids(conn.fetch({})));
    })();
    const slices = sources.readSliced(work);
    slices.next();
    writer.prepare('DELETE FROM issue WHERE id = 2').run();
    drain(slices);
    expect(reads).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(sources.read(() => ids(conn.fetch({})))).toEqual([1, 3]);
  });

  test('returns the version it read at', () => {
    const w = world();
    const version = drain(w.sources.readSliced([][Symbol.iterator]() as Iterator<void>));
    expect(version).toBe(w.sources.headVersion());
  });

  test('closes its read transaction when abandoned midway', async () => {
    const {reader, sources} = await onFile(world());
    const slices = sources.readSliced(
      (function* () {
        yield;
        yield;
      })(),
    );
    slices.next();
    expect(reader.inTransaction).toBe(true);
    slices.return(undefined as never);
    expect(reader.inTransaction).toBe(false);
  });
});

describe('advance', () => {
  test('yields once after each changed row', () => {
    const w = world();
    new Recorder(w.sources.getSource('issue').connect([['id', 'asc']]));
    const from = w.sources.headVersion();
    w.f.tx(w.f.delete('issue', {id: 1}), w.f.insert('issue', issueRow(4)));
    const gen = w.sources.advance(from);
    let yields = 0;
    while (!gen.next().done) yields++;
    expect(yields).toBe(2);
  });

  test('reports the versions it advanced between and the number of changed rows', () => {
    const w = world();
    new Recorder(w.sources.getSource('issue').connect([['id', 'asc']]));
    const from = w.sources.headVersion();
    const to = w.f.tx(w.f.delete('issue', {id: 1}), w.f.insert('issue', issueRow(4)));
    expect(drain(w.sources.advance(from))).toEqual({kind: 'changes', from, to, changes: 2});
  });

  test('asks for a reset when a table it reads was truncated', () => {
    const w = world();
    const out = new Recorder(w.sources.getSource('issue').connect([['id', 'asc']]));
    const from = w.sources.headVersion();
    w.f.tx({
      tag: 'truncate',
      relations: [{schema: 'public', name: 'issue', keyColumns: ['id']}],
    });
    expect(drain(w.sources.advance(from))).toMatchObject({kind: 'reset'});
    expect(out.log).toEqual([]);
  });

  test('closes its read transaction and clears the overlays when abandoned midway', () => {
    const w = world();
    const conn = w.sources.getSource('issue').connect([['id', 'asc']]);
    new Recorder(conn);
    const from = w.sources.headVersion();
    w.f.tx(w.f.delete('issue', {id: 1}), w.f.delete('issue', {id: 2}));
    const gen = w.sources.advance(from);
    gen.next();
    expect(w.f.db.inTransaction).toBe(true);
    gen.return(undefined as never);
    expect(w.f.db.inTransaction).toBe(false);
    expect(w.sources.getSource('issue').overlay.size).toBe(0);
    expect(ids(conn.fetch({}))).toEqual([3]);
  });
});
