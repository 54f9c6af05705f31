import {describe, test} from 'vitest';
import {runCase} from './differential-harness.js';
import {engineNamed} from './engine-under-test.js';
import {checkEngine, failureMessage, fuzzSettingsFromEnv} from './fuzz-run.js';
import {loadCorpus} from './regression-corpus.js';

/**
 * The differential fuzzer: the regression corpus first, then ZQL_FUZZ_RUNS generated cases.
 *
 *   npx vitest run test/zql/differential.test.ts                         # 5000 cases, random seed
 *   ZQL_FUZZ_RUNS=1000000 npx vitest run test/zql/differential.test.ts   # long run
 *   ZQL_FUZZ_SEED=… ZQL_FUZZ_PATH=… npx vitest run test/zql/differential.test.ts  # replay a failure
 *   ZQL_ENGINE=naive|…                                                   # engine under test
 */
const settings = fuzzSettingsFromEnv();
const engine = engineNamed(settings.engineName);

describe(`zql differential (engine ${settings.engineName})`, () => {
  describe('regression corpus', () => {
    for (const entry of loadCorpus()) {
      test(`${entry.name}: ${entry.description}`, () => {
        runCase(engine, settings.engineName, entry.testCase);
      });
    }
  });

  test(
    `${settings.runs} generated cases (seed ${settings.seed})`,
    () => {
      console.log(
        `zql fuzz: engine=${settings.engineName} runs=${settings.runs} seed=${settings.seed}` +
          (settings.path ? ` path=${settings.path}` : ''),
      );
      const details = checkEngine(settings);
      if (details.failed) throw new Error(failureMessage(settings, details));
    },
    Math.max(300_000, settings.runs * 200),
  );
});
