import {expect, test} from 'vitest';
import {RetentionWindow} from './retention-window.js';

test('nothing is released before the window has existed for the retention period', () => {
  const w = new RetentionWindow(1000);
  w.note('0a', 0);
  w.note('0b', 500);
  expect(w.bound(999)).toBeUndefined();
});

test('the bound is the newest head seen at least the retention period ago', () => {
  const w = new RetentionWindow(1000);
  w.note('0a', 0);
  w.note('0b', 500);
  w.note('0c', 1200);
  expect(w.bound(1000)).toBe('0a');
  expect(w.bound(1600)).toBe('0b');
  expect(w.bound(5000)).toBe('0c');
});

test('a head that goes back is refused', () => {
  const w = new RetentionWindow(1000);
  w.note('0b', 0);
  expect(() => w.note('0a', 1)).toThrow(/went back/);
});
