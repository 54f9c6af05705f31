import {expect, test} from 'vitest';
import {MutationRateLimit} from './mutation-rate-limit.js';

test('allows max mutations per window and refuses the next', () => {
  let now = 1000;
  const limit = new MutationRateLimit(3, 100, () => now);
  expect([limit.tryTake(), limit.tryTake(), limit.tryTake(), limit.tryTake()]).toEqual([
    true,
    true,
    true,
    false,
  ]);
  now += 99;
  expect(limit.tryTake()).toBe(false);
});

test('a mutation leaves the window windowMs after it was counted', () => {
  let now = 0;
  const limit = new MutationRateLimit(2, 100, () => now);
  limit.tryTake(); // t=0
  now = 50;
  limit.tryTake(); // t=50
  now = 100;
  expect(limit.tryTake()).toBe(true); // the t=0 one has left
  expect(limit.tryTake()).toBe(false);
  now = 150;
  expect(limit.tryTake()).toBe(true);
});

test('refused mutations do not count against the window', () => {
  let now = 0;
  const limit = new MutationRateLimit(1, 100, () => now);
  limit.tryTake();
  for (now = 1; now < 100; now += 10) expect(limit.tryTake()).toBe(false);
  now = 100;
  expect(limit.tryTake()).toBe(true);
});

test('an invalid limit is refused with what was given', () => {
  expect(() => new MutationRateLimit(5, 0)).toThrow(/max 5 per 0 ms/);
});
