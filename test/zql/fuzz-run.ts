import fc from 'fast-check';
import {minimizeCase} from './case-minimizer.js';
import {runCase} from './differential-harness.js';
import {DEFAULT_ENGINE, engineNamed, type EngineUnderTest} from './engine-under-test.js';
import type {FuzzCase} from './fuzz-schema.js';
import {fuzzCaseArb} from './generators.js';
import {saveFailingCase} from './regression-corpus.js';

/**
 * Settings and reporting of a fuzzer run. Environment:
 *   ZQL_FUZZ_RUNS  number of generated cases (default 5000; e.g. 1000000 for a long run)
 *   ZQL_FUZZ_SEED  seed (default: random; always printed so any run can be replayed)
 *   ZQL_FUZZ_PATH  fast-check replay path of a failure (with its seed: replays just that case)
 *   ZQL_ENGINE     engine under test (see ENGINES in engine-under-test.ts)
 */
export interface FuzzSettings {
  engineName: string;
  runs: number;
  seed: number;
  path: string | undefined;
}

export const DEFAULT_RUNS = 5000;

export function fuzzSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): FuzzSettings {
  const runs = env.ZQL_FUZZ_RUNS ? Number(env.ZQL_FUZZ_RUNS) : DEFAULT_RUNS;
  const seed = env.ZQL_FUZZ_SEED ? Number(env.ZQL_FUZZ_SEED) : (Math.random() * 2 ** 31) | 0;
  if (!Number.isSafeInteger(runs) || runs < 1)
    throw new Error(`bad ZQL_FUZZ_RUNS=${env.ZQL_FUZZ_RUNS}`);
  if (!Number.isInteger(seed)) throw new Error(`bad ZQL_FUZZ_SEED=${env.ZQL_FUZZ_SEED}`);
  return {
    engineName: env.ZQL_ENGINE || DEFAULT_ENGINE,
    runs,
    seed,
    path: env.ZQL_FUZZ_PATH || undefined,
  };
}

export function caseProperty(engine: EngineUnderTest, engineName: string) {
  return fc.property(fuzzCaseArb, (testCase) => runCase(engine, engineName, testCase));
}

export function checkEngine(settings: FuzzSettings): fc.RunDetails<[FuzzCase]> {
  const engine = engineNamed(settings.engineName);
  return fc.check(caseProperty(engine, settings.engineName), {
    numRuns: settings.runs,
    seed: settings.seed,
    path: settings.path,
  });
}

/** Runs one case; the mismatch report (or engine error) if it fails, else null. */
export function failureOf(engine: EngineUnderTest, engineName: string, c: FuzzCase): string | null {
  try {
    runCase(engine, engineName, c);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** fast-check's shrunk counterexample, minimized further (see case-minimizer.ts). */
export function minimizedCounterexample(
  settings: FuzzSettings,
  details: fc.RunDetails<[FuzzCase]>,
): FuzzCase | null {
  const [shrunk] = details.counterexample ?? [];
  if (!shrunk) return null;
  const engine = engineNamed(settings.engineName);
  return minimizeCase(shrunk, (c) => failureOf(engine, settings.engineName, c) !== null);
}

/** The failure message: seed and path to replay, the minimized case, its report, where it is saved. */
export function failureMessage(settings: FuzzSettings, details: fc.RunDetails<[FuzzCase]>): string {
  const minimized = minimizedCounterexample(settings, details);
  const engine = engineNamed(settings.engineName);
  const report = minimized
    ? (failureOf(engine, settings.engineName, minimized) ?? '(the minimized case passed?)')
    : String(details.errorInstance);
  const saved = minimized
    ? saveFailingCase(minimized, settings.engineName, details.seed, report)
    : '(no counterexample)';
  const replay = `ZQL_ENGINE=${settings.engineName} ZQL_FUZZ_SEED=${details.seed} ZQL_FUZZ_PATH="${details.counterexamplePath}"`;
  return [
    `ZQL differential fuzzer failed after ${details.numRuns} case(s), ${details.numShrinks} shrink(s)`,
    `  engine ${settings.engineName}, seed ${details.seed}, path "${details.counterexamplePath}"`,
    `  replay: ${replay} npx vitest run test/zql/differential.test.ts`,
    `  minimized case saved to ${saved} (copy it into test/zql/corpus/ once fixed)`,
    '',
    report,
    '',
    `minimized case: ${JSON.stringify(minimized)}`,
  ].join('\n');
}
