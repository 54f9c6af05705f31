import type {EngineUnderTest, MaintainedQuery} from './engine-under-test.js';
import {dataBeforeTransaction, type FuzzCase} from './fuzz-schema.js';
import {FuzzReplica} from './fuzz-replica.js';
import {
  mismatchReport,
  syncedMismatch,
  viewMismatch,
  type MismatchContext,
} from './mismatch-report.js';
import {evaluateQuery} from './sql-oracle.js';

/**
 * Runs one differential case: builds a replica, loads the initial data, hydrates the engine, then
 * applies each transaction and advances it. After hydration and after every transaction the
 * engine's view (rows and order) and synced rows must equal the oracle's fresh evaluation.
 * Throws a DifferentialMismatch with a readable report on the first difference.
 */
export class DifferentialMismatch extends Error {
  override name = 'DifferentialMismatch';
}

export function runCase(engine: EngineUnderTest, engineName: string, testCase: FuzzCase): void {
  const replica = new FuzzReplica(testCase.schema);
  try {
    replica.load(testCase.data);
    const context = (index: number): MismatchContext => ({
      engine: engineName,
      stage:
        index < 0
          ? 'after hydration'
          : `after transaction ${index + 1} of ${testCase.transactions.length}`,
      testCase,
      dataBefore: dataBeforeTransaction(testCase, Math.max(index, 0)),
      transaction: index < 0 ? null : testCase.transactions[index]!,
    });
    const query = guarded(
      () => context(-1),
      () => engine.hydrate(replica.db, testCase.schema, testCase.ast),
    );
    compareWithOracle(replica, testCase, query, () => context(-1));
    testCase.transactions.forEach((tx, i) => {
      replica.applyTransaction(tx);
      guarded(
        () => context(i),
        () => query.advance(),
      );
      compareWithOracle(replica, testCase, query, () => context(i));
    });
  } finally {
    replica.close();
  }
}

function compareWithOracle(
  replica: FuzzReplica,
  testCase: FuzzCase,
  query: MaintainedQuery,
  context: () => MismatchContext,
): void {
  const expected = evaluateQuery(replica.db, testCase.schema, testCase.ast);
  const differences = guarded(context, () => [
    viewMismatch(expected.view, query.view()),
    syncedMismatch(expected.synced, query.synced()),
  ]).filter((d): d is string => d !== null);
  if (differences.length) throw new DifferentialMismatch(mismatchReport(context(), differences));
}

/** Runs `fn`; an engine exception becomes a mismatch report naming the step that threw. */
function guarded<T>(context: () => MismatchContext, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DifferentialMismatch) throw e;
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    const report = mismatchReport(context(), [`engine threw: ${message}`]);
    throw new DifferentialMismatch(report, {cause: e});
  }
}
