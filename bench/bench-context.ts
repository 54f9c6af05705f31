import type {Report} from './figures.js';

/** What run.ts hands each benchmark: where Postgres is, how big to make things, where figures go. */
export interface BenchContext {
  /** URL of a database on the cluster with rights to create databases. */
  readonly adminUrl: string;
  /** BENCH_SCALE: multiplies row counts (and, capped at 1, durations). */
  readonly scale: number;
  readonly report: Report;
}

/** `base` scaled by BENCH_SCALE, at least `min`. */
export function scaled(ctx: BenchContext, base: number, min = 1): number {
  return Math.max(min, Math.round(base * ctx.scale));
}

/** A duration scaled by BENCH_SCALE but never longer than `base` nor shorter than a fifth of it. */
export function scaledDuration(ctx: BenchContext, baseMs: number): number {
  return Math.round(baseMs * Math.min(1, Math.max(0.2, ctx.scale)));
}
