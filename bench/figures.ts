/**
 * A measured figure (one row of the final table), printed the moment it is measured, plus the
 * number formats the benchmarks share.
 */
export interface Figure {
  bench: string;
  metric: string;
  value: string;
  notes?: string;
}

export type Report = (f: Figure) => void;

export function printFigure(f: Figure): void {
  process.stdout.write(
    `  [${f.bench}] ${f.metric}: ${f.value}${f.notes ? `  (${f.notes})` : ''}\n`,
  );
}

/** Progress lines that are not figures (seeding, phases), to stderr so stdout stays the results. */
export function note(bench: string, text: string): void {
  process.stderr.write(`  [${bench}] ${text}\n`);
}

export const int = (n: number) => Math.round(n).toLocaleString('en-US');
export const fixed = (n: number, digits = 1) =>
  n.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits});
export const ms = (n: number) => `${fixed(n, n < 10 ? 2 : 1)} ms`;
export const seconds = (msValue: number) => `${fixed(msValue / 1000, 2)} s`;
export const megabytes = (bytes: number) => `${fixed(bytes / 1e6, 1)} MB`;
