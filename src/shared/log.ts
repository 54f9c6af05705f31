/**
 * Leveled logging to stderr, as text or one JSON object per line (ZERO_LOG_FORMAT). A logger carries
 * context (e.g. `{component: 'replicator'}`) that every line it writes includes.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

const RANK: Record<LogLevel, number> = {debug: 0, info: 1, warn: 2, error: 3};

export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  withContext(ctx: Record<string, string | number>): Logger;
}

export interface LogSink {
  write(line: string): void;
}

const stderrSink: LogSink = {write: (line) => process.stderr.write(line + '\n')};

export function createLogger(
  level: LogLevel = 'info',
  format: LogFormat = 'text',
  ctx: Record<string, string | number> = {},
  sink: LogSink = stderrSink,
): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, args: unknown[]) => {
    if (RANK[lvl] < min) return;
    const message = args.map(formatArg).join(' ');
    if (format === 'json') {
      sink.write(JSON.stringify({level: lvl, time: new Date().toISOString(), ...ctx, message}));
    } else {
      const prefix = Object.entries(ctx)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      sink.write(`${lvl.toUpperCase().padEnd(5)} ${prefix ? prefix + ' ' : ''}${message}`);
    }
  };
  return {
    debug: (...a) => emit('debug', a),
    info: (...a) => emit('info', a),
    warn: (...a) => emit('warn', a),
    error: (...a) => emit('error', a),
    withContext: (more) => createLogger(level, format, {...ctx, ...more}, sink),
  };
}

function formatArg(a: unknown): string {
  if (typeof a === 'string') return a;
  if (a instanceof Error) return a.stack ?? a.message;
  try {
    return JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return String(a);
  }
}

/** A logger that drops everything (for tests that assert on behaviour, not logs). */
export const silentLogger: Logger = createLogger('error', 'text', {}, {write: () => {}});
