import {expect, test} from 'vitest';
import {versionToLexi} from '../shared/lexi-version.js';
import {
  parseSnapshotKey,
  snapshotKey,
  snapshotsBeyondRetention,
  type BackupManifest,
} from './backup-manifest.js';
import type {StoredObject} from './object-store.js';

const RV = versionToLexi(500);
const OLD_RV = versionToLexi(400);
const hash = (c: string) => c.repeat(64);

function obj(key: string, modified = 0): StoredObject {
  return {key, bytes: 1, lastModified: new Date(modified)};
}

function manifestFor(key: string): BackupManifest {
  const k = parseSnapshotKey(key)!;
  return {
    format: 1,
    replicaVersion: k.replicaVersion,
    watermark: k.stateVersion,
    key,
    bytes: 1,
    sha256: hash('a'),
    createdAt: '',
  };
}

test('a snapshot key names its versions and part of the hash, and parses back', () => {
  const key = snapshotKey(RV, versionToLexi(42), hash('b'));
  expect(key).toBe(`snapshots/${RV}/${versionToLexi(42)}-bbbbbbbbbbbbbbbb.db.gz`);
  expect(parseSnapshotKey(key)).toEqual({replicaVersion: RV, stateVersion: versionToLexi(42)});
});

test.each(['snapshots/x.db.gz', 'snapshots/12/34.db.gz', 'other/12/12-aaaaaaaaaaaaaaaa.db.gz'])(
  '%s is not a snapshot key',
  (key) => expect(parseSnapshotKey(key)).toBeNull(),
);

test('retention keeps the manifest snapshot even when newer ones exist', () => {
  const published = snapshotKey(RV, versionToLexi(5), hash('a'));
  const newer = snapshotKey(RV, versionToLexi(6), hash('b'));
  const older = snapshotKey(RV, versionToLexi(4), hash('c'));
  const doomed = snapshotsBeyondRetention(
    [obj(newer), obj(published), obj(older)],
    manifestFor(published),
    2,
  );
  expect(doomed).toEqual([older]);
});

test('retention drops snapshots of an older replicaVersion before the current one', () => {
  const published = snapshotKey(RV, versionToLexi(5), hash('a'));
  const current = snapshotKey(RV, versionToLexi(3), hash('b'));
  const resynced = snapshotKey(OLD_RV, versionToLexi(9), hash('c'));
  expect(
    snapshotsBeyondRetention(
      [obj(resynced, 9000), obj(current, 1), obj(published)],
      manifestFor(published),
      2,
    ),
  ).toEqual([resynced]);
});

test('retention never chooses objects whose keys it did not write', () => {
  const published = snapshotKey(RV, versionToLexi(5), hash('a'));
  const foreign = ['snapshots/README', 'snapshots/x/y/z.db.gz'].map((k) => obj(k));
  expect(snapshotsBeyondRetention([...foreign, obj(published)], manifestFor(published), 1)).toEqual(
    [],
  );
});

test('a retention count below one keeps the manifest snapshot', () => {
  const published = snapshotKey(RV, versionToLexi(5), hash('a'));
  const older = snapshotKey(RV, versionToLexi(4), hash('c'));
  expect(snapshotsBeyondRetention([obj(older), obj(published)], manifestFor(published), 0)).toEqual(
    [older],
  );
});
