import {runBenchmarks} from './run-benchmarks.js';

/**
 * `npm run bench`. Environment:
 *
 *   BENCH_SCALE=0.05           multiply row counts (durations too, capped at 1×, at least 0.2×)
 *   BENCH_ONLY=replication     run one benchmark: initial-sync | replication | zql | e2e |
 *                              fairness | many-groups | view-syncer-start
 *   BENCH_LOG=1                echo the node's log
 *   ZERO_UPSTREAM_DB           use this Postgres (needs wal_level=logical, CREATEDB) instead of an
 *                              embedded one
 */
runBenchmarks().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
  },
);
