import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, expect, test} from 'vitest';
import {openReplica} from '../replica/replica-file.js';
import {removeAbandonedBackupWork} from './replica-snapshot.js';

const dir = mkdtempSync(path.join(tmpdir(), 'zcache-abandoned-work-'));
afterAll(() => rmSync(dir, {recursive: true, force: true}));

test('the working folders of interrupted backups beside the replica are removed, nothing else', async () => {
  const db = openReplica(path.join(dir, 'zero.db'));
  try {
    for (const name of ['.zcache-backup-aaaa', '.zcache-backup-bbbb']) {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, 'replica.db'), 'half a copy');
    }
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
