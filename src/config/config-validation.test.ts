import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {expect, test} from 'vitest';
import {ConfigError} from './config-error.js';
import {parseConfig} from './parse.js';

const NO_ENV_FILE = join(tmpdir(), 'zcache-config-test-no-such-dir', '.env');

function problemsOf(argv: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(
      argv,
      {NODE_ENV: 'development', ...env},
      {
        envFile: NO_ENV_FILE,
        availableParallelism: 4,
        randomTaskID: () => 'task',
        warn: () => {},
      },
    );
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function onlyProblem(argv: string[], env: Record<string, string> = {}): string {
  const problems = problemsOf(argv, env);
  expect(problems).toHaveLength(1);
  return problems[0] as string;
}

test('an unknown CLI flag is rejected, without also rejecting its value', () => {
  const problem = onlyProblem(['--no-such-option', 'value']);
  expect(problem).toContain('--no-such-option');
  expect(problem).toContain('--help');
});

test('a flag that needs a value and has none is rejected', () => {
  const problem = onlyProblem(['--port']);
  expect(problem).toContain('ZERO_PORT (--port)');
  expect(problem).toContain('expected an integer from 1 to 65535');
});

test('a number option rejects text that is not a number', () => {
  const problem = onlyProblem([], {ZERO_CVR_MAX_CONNS: '12abc'});
  expect(problem).toContain('ZERO_CVR_MAX_CONNS (--cvr-max-conns)');
  expect(problem).toContain('"12abc"');
  expect(problem).toContain('expected an integer');
});

test('a number option rejects infinite values', () => {
  const problem = onlyProblem(['--yield-threshold-ms', 'Infinity']);
  expect(problem).toContain('ZERO_YIELD_THRESHOLD_MS (--yield-threshold-ms)');
  expect(problem).toContain('expected a number');
});

test('an integer option rejects fractions', () => {
  const problem = onlyProblem([], {ZERO_INITIAL_SYNC_TABLE_COPY_WORKERS: '2.5'});
  expect(problem).toContain('ZERO_INITIAL_SYNC_TABLE_COPY_WORKERS');
  expect(problem).toContain('is not an integer');
});

test('a boolean option rejects words other than true, false, 1 and 0', () => {
  const problem = onlyProblem([], {ZERO_AUTO_RESET: 'yes'});
  expect(problem).toContain('ZERO_AUTO_RESET (--auto-reset)');
  expect(problem).toContain('"yes"');
  expect(problem).toContain('expected true, false, 1 or 0');
});

test('log level and log format accept only their listed values', () => {
  const problems = problemsOf([], {ZERO_LOG_LEVEL: 'verbose', ZERO_LOG_FORMAT: 'xml'});
  expect(problems[0]).toContain('ZERO_LOG_LEVEL (--log-level)');
  expect(problems[0]).toContain('expected one of debug, info, warn, error');
  expect(problems[1]).toContain('ZERO_LOG_FORMAT (--log-format)');
  expect(problems[1]).toContain('expected one of text, json');
});

test('an app id outside ^[a-z0-9_]+$ is rejected', () => {
  const problem = onlyProblem(['--app-id', 'My-App']);
  expect(problem).toContain('ZERO_APP_ID (--app-id)');
  expect(problem).toContain('"My-App"');
  expect(problem).toContain('lower-case letters, digits and underscores');
});

test('ZERO_SHARD_ID is rejected with advice to use ZERO_SHARD_NUM', () => {
  const problem = onlyProblem([], {ZERO_SHARD_ID: 'abc'});
  expect(problem).toContain('ZERO_SHARD_ID (--shard-id)');
  expect(problem).toContain('ZERO_SHARD_NUM');
});

test('app publications starting with an underscore are rejected', () => {
  const problem = onlyProblem([], {ZERO_APP_PUBLICATIONS: 'good,_internal'});
  expect(problem).toContain('ZERO_APP_PUBLICATIONS (--app-publications)');
  expect(problem).toContain('"_internal"');
  expect(problem).toContain('do not start with an underscore');
});

test('connection pools smaller than the number of sync workers are rejected', () => {
  const problems = problemsOf(['--num-sync-workers', '8', '--upstream-max-conns', '4'], {
    ZERO_CVR_MAX_CONNS: '6',
  });
  expect(problems).toHaveLength(2);
  expect(problems[0]).toContain('ZERO_UPSTREAM_MAX_CONNS (--upstream-max-conns)');
  expect(problems[1]).toContain('ZERO_CVR_MAX_CONNS (--cvr-max-conns)');
  expect(problems[0]).toContain('8 or more');
  expect(problems[0]).toContain('ZERO_NUM_SYNC_WORKERS');
});

test('database options must be postgres:// or postgresql:// URLs, shown without passwords', () => {
  const problems = problemsOf(['--upstream-db', 'mysql://me:hunter2@db/app'], {
    ZERO_CVR_DB: 'postgresql://u@cvr/db',
    ZERO_CHANGE_DB: 'not a url',
  });
  expect(problems).toHaveLength(2);
  expect(problems[0]).toContain('ZERO_UPSTREAM_DB (--upstream-db)');
  expect(problems[0]).toContain('expected a postgres:// or postgresql:// URL');
  expect(problems[0]).not.toContain('hunter2');
  expect(problems[1]).toContain('ZERO_CHANGE_DB (--change-db)');
});

test('a custom upstream need not be a Postgres URL, but the databases derived from it must', () => {
  const env = {ZERO_UPSTREAM_TYPE: 'custom', ZERO_UPSTREAM_DB: 'https://changes.example/v0'};
  const problems = problemsOf([], {...env, ZERO_CVR_DB: 'postgres://cvr/db'});
  expect(problems).toHaveLength(1);
  expect(problems[0]).toContain('ZERO_CHANGE_DB (--change-db)');
  expect(problems[0]).toContain('--upstream-db');
});

test('ports outside 1..65535 are rejected, derived ones included', () => {
  expect(onlyProblem(['--port', '0'])).toContain('ZERO_PORT (--port): 0');
  const problems = problemsOf(['--port', '65535']);
  expect(problems).toHaveLength(2);
  expect(problems[0]).toContain('ZERO_CHANGE_STREAMER_PORT (--change-streamer-port): 65536');
  expect(problems[0]).toContain('expected an integer from 1 to 65535');
  expect(problems[1]).toContain('ZERO_LITESTREAM_PORT (--litestream-port): 65537');
  expect(onlyProblem([], {ZCACHE_EMBEDDED_PG_PORT: '70000'})).toContain('ZCACHE_EMBEDDED_PG_PORT');
});

test('production refuses to start without an admin password', () => {
  const problems = problemsOf([], {NODE_ENV: 'production'});
  expect(problems).toHaveLength(1);
  expect(problems[0]).toContain('ZERO_ADMIN_PASSWORD (--admin-password)');
  expect(problems[0]).toContain('set ZERO_ADMIN_PASSWORD, or set NODE_ENV=development');
});

test('an unset NODE_ENV means production', () => {
  const run = () =>
    parseConfig([], {}, {envFile: NO_ENV_FILE, availableParallelism: 2, warn: () => {}});
  expect(run).toThrow(/ZERO_ADMIN_PASSWORD/);
  const withPassword = parseConfig([], {ZERO_ADMIN_PASSWORD: 's3cret'}, {envFile: NO_ENV_FILE});
  expect(withPassword.adminPassword).toBe('s3cret');
});

test('all problems are reported together, one line each', () => {
  let error: unknown;
  try {
    parseConfig(
      ['--port', 'abc', '--bogus'],
      {ZERO_APP_ID: 'Bad', ZERO_LOG_FORMAT: 'xml', ZERO_SHARD_ID: '1'},
      {envFile: NO_ENV_FILE, availableParallelism: 2, warn: () => {}},
    );
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const {message, problems} = error as ConfigError;
  expect(problems).toHaveLength(6);
  expect(message.split('\n')).toHaveLength(7);
  for (const name of ['--bogus', 'ZERO_PORT', 'ZERO_APP_ID', 'ZERO_LOG_FORMAT', 'ZERO_SHARD_ID']) {
    expect(message).toContain(name);
  }
  expect(message).toContain('ZERO_ADMIN_PASSWORD');
});
