import {describe, expect, test} from 'vitest';
import {ConnectionLostError, isConnectionLoss} from './connection-loss.js';
import {noteDroppedWrite, settledOrLost} from './postgres-dropped-writes.js';

const never = () => new Promise<never>(() => {});

describe('settledOrLost', () => {
  test('work that never settles fails as a lost connection once a write is dropped', async () => {
    const pending = settledOrLost('CVR of client group g: load', never);
    noteDroppedWrite();
    const e = await pending.catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ConnectionLostError);
    expect(isConnectionLoss(e)).toBe(true);
    expect((e as Error).message).toBe(
      'CVR of client group g: load: its connection closed while it was being sent',
    );
  });

  test('work that settles gives its result, and a later dropped write does not touch it', async () => {
    await expect(settledOrLost('read', () => Promise.resolve(42))).resolves.toBe(42);
    noteDroppedWrite();
    await expect(settledOrLost('read', () => Promise.resolve('again'))).resolves.toBe('again');
  });

  test('work that fails keeps its own error', async () => {
    const own = new Error('relation "x" does not exist');
    await expect(settledOrLost('read', () => Promise.reject(own))).rejects.toBe(own);
  });

  test('a write dropped before the work started does not fail it', async () => {
    noteDroppedWrite();
    let release: (v: string) => void = () => {};
    const pending = settledOrLost('read', () => new Promise<string>((r) => (release = r)));
    release('done');
    await expect(pending).resolves.toBe('done');
  });
});
