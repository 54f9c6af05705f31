import {mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, expect, test} from 'vitest';
import {
  createMetaTables,
  openReplica,
  readStateVersion,
  writeReplicationConfig,
  writeStateVersion,
} from '../replica/replica-file.js';
import {versionToLexi} from '../shared/lexi-version.js';
import {copyOnWorkerThread} from './snapshot-copier.js';

/** The worker-thread copy of a replica: the whole replica at one commit, or a clear error. */
const dir = mkdtempSync(path.join(tmpdir(), 'zcache-copier-'));
const copier = copyOnWorkerThread(createRequire(import.meta.url).resolve('better-sqlite3'));
afterAll(() => rmSync(dir, {recursive: true, force: true}));

test('a replica copied on a worker thread holds every row and the state version', async () => {
  const file = path.join(dir, 'replica.db');
  const db = openReplica(file);
  createMetaTables(db);
  writeReplicationConfig(db, {replicaVersion: versionToLexi(1), publications: ['p'], slot: 's'});
  db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT INTO item VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 5000; i++) insert.run(i, `v${i}`);
    writeStateVersion(db, versionToLexi(42));
  })();
  const into = path.join(dir, 'copy.db');
  await copier(file, into);
  db.close();
  const copy = openReplica(into, {readonly: true});
  expect(copy.prepare('SELECT count(*) AS n FROM item').get()).toEqual({n: 5000});
  expect(readStateVersion(copy)).toBe(versionToLexi(42));
  copy.close();
});

test('a replica that does not exist fails with the reason', async () => {
  await expect(copier(path.join(dir, 'missing.db'), path.join(dir, 'x.db'))).rejects.toThrow(
    /backup: (VACUUM INTO|copy worker).*(unable to open|does not exist|directory)/i,
  );
});
