import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, expect, test} from 'vitest';
import {openReplica} from '../replica/replica-file.js';
import {removeAbandonedBackupWork, removeAbandonedRestoreWork} from './replica-snapshot.js';

const root = mkdtempSync(path.join(tmpdir(), 'zcache-abandoned-work-'));
afterAll(() => rmSync(root, {recursive: true, force: true}));

function freshDir(name: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  return dir;
}

function work(dir: string, name: string, file: string): void {
  mkdirSync(path.join(dir, name));
  writeFileSync(path.join(dir, name, file), 'half a copy');
}

test('the working folders of interrupted backups beside the replica are removed, nothing else', async () => {
  const dir = freshDir('backup');
  const db = openReplica(path.join(dir, 'zero.db'));
  try {
    work(dir, '.zcache-backup-aaaa', 'replica.db');
    work(dir, '.zcache-backup-bbbb', 'replica.db.gz');
    mkdirSync(path.join(dir, '.zcache-restore-cccc'));
    writeFileSync(path.join(dir, 'notes.txt'), 'not ours');
    const removed = await removeAbandonedBackupWork(db);
    expect(removed.sort()).toEqual(['.zcache-backup-aaaa', '.zcache-backup-bbbb']);
    expect(
      readdirSync(dir)
        .filter((f) => !f.startsWith('zero.db'))
        .sort(),
    ).toEqual(['.zcache-restore-cccc', 'notes.txt']);
  } finally {
    db.close();
  }
});

test('the working folders of interrupted restores beside the replica file are removed, nothing else', async () => {
  const dir = freshDir('restore');
  const replicaFile = path.join(dir, 'zero.db');
  writeFileSync(replicaFile, 'the replica');
  writeFileSync(replicaFile + '-wal', 'its WAL');
  work(dir, '.zcache-restore-Ab12Cd', 'snapshot.db.gz');
  work(dir, '.zcache-restore-xyz789', 'replica.db');
  work(dir, '.zcache-backup-aaaa', 'replica.db');
  work(dir, 'zcache-restore-not-hidden', 'keep');
  work(dir, 'other', 'keep');
  writeFileSync(path.join(dir, '.zcache-restore-a-file'), 'a file, not a folder we make');
  writeFileSync(path.join(dir, 'notes.txt'), 'not ours');

  const removed = await removeAbandonedRestoreWork(replicaFile);

  expect(removed.sort()).toEqual(['.zcache-restore-Ab12Cd', '.zcache-restore-xyz789']);
  expect(readdirSync(dir).sort()).toEqual([
    '.zcache-backup-aaaa',
    '.zcache-restore-a-file',
    'notes.txt',
    'other',
    'zcache-restore-not-hidden',
    'zero.db',
    'zero.db-wal',
  ]);
  expect(readFileSync(replicaFile, 'utf8')).toBe('the replica');
  expect(readdirSync(path.join(dir, 'other'))).toEqual(['keep']);
});

test('a replica file whose folder does not exist yet has nothing to remove', async () => {
  const replicaFile = path.join(root, 'not-yet', 'zero.db');
  expect(await removeAbandonedRestoreWork(replicaFile)).toEqual([]);
});
