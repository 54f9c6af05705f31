import {expect, test} from 'vitest';
import {SliceScheduler} from './slice-scheduler.js';

/** A clock that only moves when work "computes", so slice lengths do not depend on the machine. */
function scheduler(maxDeferMs: number) {
  let now = 0;
  const s = new SliceScheduler({
    yieldThresholdMs: 10,
    longAfterMs: 50,
    maxDeferMs,
    now: () => now,
  });
  /** Work of `slices` slices of 20 ms each; `done` counts the slices run so far. */
  const work = (slices: number) => {
    const progress = {done: 0};
    const gen = (function* () {
      for (let i = 0; i < slices; i++) {
        now += 20;
        progress.done++;
        yield;
      }
      return 'finished';
    })();
    return {gen, progress};
  };
  return {s, work};
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('a long step waits while a short step is in flight, and resumes when it ends', async () => {
  const {s, work} = scheduler(60_000);
  const long = work(100);
  const longStep = s.beginStep();
  const finished = longStep.run(long.gen);
  await turns(5); // it becomes long after 3 slices (60 ms > 50 ms)
  const short = s.beginStep();
  await turns(5);
  const whileShort = long.progress.done;
  expect(whileShort).toBeLessThan(20);
  await turns(20);
  expect(long.progress.done).toBe(whileShort);
  short.end();
  await expect(finished).resolves.toBe('finished');
  expect(long.progress.done).toBe(100);
  longStep.end();
  expect(s.shortInFlight).toBe(0);
});

test('a short step is not held back by other short steps', async () => {
  const {s, work} = scheduler(60_000);
  const other = s.beginStep();
  const step = s.beginStep();
  await expect(step.run(work(2).gen)).resolves.toBe('finished');
  step.end();
  other.end();
});

test('a long step never waits longer than maxDeferMs at a time', async () => {
  const {s, work} = scheduler(5);
  const short = s.beginStep(); // never ends during the test
  const step = s.beginStep();
  await expect(step.run(work(10).gen)).resolves.toBe('finished');
  step.end();
  short.end();
});

test('ending a step twice counts it once', () => {
  const {s} = scheduler(5);
  const a = s.beginStep();
  const b = s.beginStep();
  a.end();
  a.end();
  expect(s.shortInFlight).toBe(1);
  b.end();
  expect(s.shortInFlight).toBe(0);
});

test('work abandoned between slices is closed (its finally runs) and rejects', async () => {
  const {s} = scheduler(5);
  let now = 0;
  let closed = false;
  const gen = (function* () {
    try {
      for (;;) {
        now += 20;
        yield;
      }
    } finally {
      closed = true;
    }
  })();
  const t = new SliceScheduler({yieldThresholdMs: 10, now: () => now});
  let stop = false;
  const step = t.beginStep();
  const running = step.run(gen, () => stop);
  await turns(3);
  stop = true;
  await expect(running).rejects.toThrow(/abandoned/);
  expect(closed).toBe(true);
  step.end();
  expect(s.shortInFlight).toBe(0);
});
