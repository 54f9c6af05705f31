import fc from 'fast-check';
import {describe, expect, test} from 'vitest';
import {runCase} from './differential-harness.js';
import {engineNamed, naiveEngine} from './engine-under-test.js';
import type {FuzzCase} from './fuzz-schema.js';
import {
  caseProperty,
  failureMessage,
  minimizedCounterexample,
  type FuzzSettings,
} from './fuzz-run.js';

/**
 * The fuzzer must find a planted bug quickly and reduce it to a tiny reproduction; the naive
 * engine (the oracle itself) must pass.
 */
function size(c: FuzzCase) {
  return {
    tables: c.schema.tables.length,
    columns: c.schema.tables.reduce((n, t) => n + t.columns.length, 0),
    rows: Object.values(c.data).reduce((n, rows) => n + rows.length, 0),
    changes: c.transactions.flat().length,
    astChars: JSON.stringify(c.ast).length,
  };
}

describe('differential fuzzer finds planted bugs', () => {
  test.each([
    ['broken-skips-deletes', 1],
    ['broken-skips-deletes', 2],
    ['broken-drops-last-limited-row', 1],
    ['broken-drops-last-limited-row', 3],
  ])('%s (seed %i) fails and shrinks to a tiny case', (engineName, seed) => {
    const settings: FuzzSettings = {engineName, runs: 2000, seed, path: undefined};
    const details = fc.check(caseProperty(engineNamed(engineName), engineName), {
      numRuns: settings.runs,
      seed,
    });
    expect(details.failed).toBe(true);
    expect(details.numRuns).toBeLessThan(200);
    const shrunk = size(details.counterexample![0]);
    expect(shrunk.rows + shrunk.changes).toBeLessThanOrEqual(6);

    const minimized = minimizedCounterexample(settings, details)!;
    const s = size(minimized);
    expect(s.tables).toBeLessThanOrEqual(2);
    expect(s.columns).toBeLessThanOrEqual(3);
    expect(s.rows + s.changes).toBeLessThanOrEqual(4);
    expect(s.astChars).toBeLessThanOrEqual(100);
    expect(() => runCase(engineNamed(engineName), engineName, minimized)).toThrow(/mismatch/);

    const message = failureMessage(settings, details);
    expect(message).toContain(`seed ${seed}`);
    expect(message).toContain(`ZQL_FUZZ_PATH="${details.counterexamplePath}"`);
    expect(message).toContain('minimized case: {"schema"');
  });

  test('the naive engine passes 300 cases', () => {
    fc.assert(caseProperty(naiveEngine, 'naive'), {numRuns: 300, seed: 42});
  });
});
