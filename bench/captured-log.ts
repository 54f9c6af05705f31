import {createLogger, type Logger} from '../src/shared/log.js';
import {wallClockMs} from './clock.js';

/**
 * A logger for the node under test that keeps every line (with the time it was written) so that a
 * benchmark can read the node's own figures, e.g. `initial sync: N rows (B bytes) in T ms`.
 * Warnings and errors also go to stderr; BENCH_LOG=1 echoes everything.
 */
export interface CapturedLog {
  readonly logger: Logger;
  readonly lines: {at: number; text: string}[];
  /** The last line matching `re`, matched. */
  last(re: RegExp): RegExpExecArray | null;
}

export function captureLog(name: string): CapturedLog {
  const echoAll = process.env.BENCH_LOG === '1';
  const lines: {at: number; text: string}[] = [];
  const logger = createLogger(
    echoAll ? 'debug' : 'info',
    'text',
    {bench: name},
    {
      write(text) {
        lines.push({at: wallClockMs(), text});
        if (echoAll || /^(WARN|ERROR)/.test(text)) process.stderr.write(text + '\n');
      },
    },
  );
  return {
    logger,
    lines,
    last(re) {
      for (let i = lines.length - 1; i >= 0; i--) {
        const m = re.exec(lines[i]!.text);
        if (m) return m;
      }
      return null;
    },
  };
}
