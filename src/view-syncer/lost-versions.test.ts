import {expect, test} from 'vitest';
import {versionFromLexi, versionToLexi} from '../shared/lexi-version.js';
import {compareVersions, type CVRVersion} from './cvr-version.js';
import {LostVersions} from './lost-versions.js';

const v = (n: number, minor?: number): CVRVersion => ({
  stateVersion: versionToLexi(n),
  ...(minor ? {minorVersion: minor} : {}),
});
const fresh = {version: v(0), handedOutCeiling: null, lostRanges: []};

test('a new CVR vouches for every cookie, and raises its ceiling before handing out a version', () => {
  const lost = new LostVersions(fresh);
  expect(lost.mayBeLost(v(5))).toBe(false);
  const ceiling = lost.ceilingFor(v(100))!;
  expect(compareVersions(ceiling, v(100))).toBeGreaterThan(0);
  // Covered until a version passes it: no durable flush needed.
  expect(lost.ceilingFor(v(101, 3))).toBeNull();
  expect(lost.ceilingFor({stateVersion: ceiling.stateVersion, minorVersion: 1})).not.toBeNull();
});

test('loaded below its ceiling: cookies between are reset, new versions start above the ceiling', () => {
  const lost = new LostVersions({version: v(50), handedOutCeiling: v(90), lostRanges: []});
  expect([v(50), v(51), v(90), v(91)].map((c) => lost.mayBeLost(c))).toEqual([
    false,
    true,
    true,
    false,
  ]);
  expect(lost.raise(v(60))).toEqual({stateVersion: v(90).stateVersion, minorVersion: 1});
  expect(lost.raise(v(95))).toEqual(v(95));
  expect(lost.ranges).toEqual([[v(50), v(90)]]);
});

test('ranges from earlier loads keep resetting their cookies; the oldest merge beyond the bound', () => {
  let ranges: (readonly [CVRVersion, CVRVersion])[] = [];
  for (let i = 0; i < 10; i++) {
    ranges = [
      ...new LostVersions({version: v(i * 10), handedOutCeiling: v(i * 10 + 5), lostRanges: ranges})
        .ranges,
    ];
  }
  expect(ranges).toHaveLength(8);
  const lost = new LostVersions({version: v(200), handedOutCeiling: v(200), lostRanges: ranges});
  expect(lost.mayBeLost(v(3))).toBe(true); // in the merged oldest range
  expect(lost.mayBeLost(v(93))).toBe(true);
  expect(lost.mayBeLost(v(97))).toBe(false);
  expect(versionFromLexi(lost.ranges.at(-1)![1].stateVersion)).toBe(95n);
});
