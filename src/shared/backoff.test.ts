import {describe, expect, test} from 'vitest';
import {Backoff, retryWhileTransient} from './backoff.js';

describe('Backoff', () => {
  test('waits double up to the cap, jittered down by at most half, and starts over on reset', () => {
    const top = new Backoff({initialMs: 100, maxMs: 500, random: () => 0.999999});
    expect([top.next(), top.next(), top.next(), top.next()]).toEqual([100, 200, 400, 500]);
    const bottom = new Backoff({initialMs: 100, maxMs: 500, random: () => 0});
    expect([bottom.next(), bottom.next()]).toEqual([50, 100]);
    bottom.reset();
    expect(bottom.next()).toBe(50);
  });
});

describe('retryWhileTransient', () => {
  const transient = Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'});
  const opts = (warnings: string[]) => ({
    isTransient: (e: unknown) => (e as {code?: string}).code === 'ECONNREFUSED',
    describe: (e: unknown, wait: number, n: number) =>
      `${(e as Error).message}: ${wait} ms (#${n})`,
    warn: (m: string) => warnings.push(m),
    backoff: new Backoff({initialMs: 1, maxMs: 2, random: () => 0.999999}),
  });

  test('retries transient failures, saying so each time, until the attempt succeeds', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const result = await retryWhileTransient(async () => {
      if (++calls < 3) throw transient;
      return 'up';
    }, opts(warnings));
    expect(result).toBe('up');
    expect(warnings).toEqual([
      'connect ECONNREFUSED: 1 ms (#1)',
      'connect ECONNREFUSED: 2 ms (#2)',
    ]);
  });

  test('throws any other failure at once', async () => {
    const warnings: string[] = [];
    const wrongPassword = new Error('password authentication failed for user "zero"');
    let calls = 0;
    await expect(
      retryWhileTransient(() => {
        calls++;
        return Promise.reject(wrongPassword);
      }, opts(warnings)),
    ).rejects.toBe(wrongPassword);
    expect({calls, warnings}).toEqual({calls: 1, warnings: []});
  });

  test('stops retrying when its signal aborts', async () => {
    const abort = new AbortController();
    let calls = 0;
    const run = retryWhileTransient(
      () => {
        if (++calls === 2) abort.abort(new Error('node stopping'));
        return Promise.reject(transient);
      },
      {...opts([]), signal: abort.signal},
    );
    await expect(run).rejects.toThrow('node stopping');
    expect(calls).toBe(2);
  });
});
