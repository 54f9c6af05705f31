import type {ResolvedValues} from './config-values.js';
import {VALUE_OPTIONS, type ZeroConfig} from './options.js';

/** What the defaults depend on besides the options, injectable so that tests are deterministic. */
export interface MachineFacts {
  readonly availableParallelism: number;
  readonly randomTaskID: () => string;
}

const DERIVED_TEXT: ReadonlyMap<string, string | undefined> = new Map(
  VALUE_OPTIONS.map((spec) => [spec.key, spec.derived]),
);

/** Fills options left unset whose default is computed from other options (see `derived`). */
export function fillDerivedDefaults({values, origins}: ResolvedValues, machine: MachineFacts) {
  const numberAt = (key: string) => values.get(key) as number;
  const derive = (key: string, compute: () => string | number | undefined) => {
    if (values.get(key) !== undefined) {
      return;
    }
    const value = compute();
    if (value !== undefined) {
      values.set(key, value);
      origins.set(key, `its default, ${DERIVED_TEXT.get(key) ?? 'derived'}`);
    }
  };

  derive('cvr.db', () => values.get('upstream.db') as string | undefined);
  derive('change.db', () => values.get('upstream.db') as string | undefined);
  derive('changeStreamer.port', () => numberAt('port') + 1);
  derive('litestream.port', () => numberAt('port') + 2);
  derive('taskID', machine.randomTaskID);
  derive('numSyncWorkers', () => Math.max(1, machine.availableParallelism - 1));
  derive('litestream.minCheckpointPageCount', () =>
    Math.round(numberAt('litestream.checkpointThresholdMB') * 250),
  );
  derive(
    'litestream.maxCheckpointPageCount',
    () => numberAt('litestream.minCheckpointPageCount') * 10,
  );
  // Left unset when the pool cannot give each worker a connection: the conns check reports that.
  const workers = numberAt('numSyncWorkers');
  for (const pool of ['upstream', 'cvr']) {
    const maxConns = numberAt(`${pool}.maxConns`);
    derive(`${pool}.maxConnsPerWorker`, () =>
      workers > 0 && maxConns >= workers ? Math.floor(maxConns / workers) : undefined,
    );
  }
}

/**
 * `config` pointed at an upstream chosen after parsing (the embedded Postgres started when
 * ZERO_UPSTREAM_DB is unset); the CVR and change databases follow it unless they were set.
 */
export function withUpstreamDb(config: ZeroConfig, url: string): ZeroConfig {
  return {
    ...config,
    upstream: {...config.upstream, db: url},
    cvr: {...config.cvr, db: config.cvr.db ?? url},
    change: {...config.change, db: config.change.db ?? url},
  };
}
