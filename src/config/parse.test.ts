import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, expect, test} from 'vitest';
import {configToEnv} from './config-env.js';
import {withUpstreamDb} from './derived-defaults.js';
import {parseConfig, type ParseConfigOptions} from './parse.js';

const NO_ENV_FILE = join(tmpdir(), 'zcache-config-test-no-such-dir', '.env');
const DEV = {NODE_ENV: 'development'};

function parse(
  argv: string[],
  env: Record<string, string | undefined> = DEV,
  opts: ParseConfigOptions = {},
) {
  return parseConfig(argv, env, {
    envFile: NO_ENV_FILE,
    availableParallelism: 4,
    randomTaskID: () => 'random-task',
    warn: () => {},
    ...opts,
  });
}

const tmpDirs: string[] = [];
afterEach(() => {
  tmpDirs.splice(0).forEach((dir) => rmSync(dir, {recursive: true, force: true}));
});

function writeEnvFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'zcache-config-'));
  tmpDirs.push(dir);
  const path = join(dir, '.env');
  writeFileSync(path, text);
  return path;
}

test('defaults equal zero-cache 0.25.9 defaults', () => {
  const config = parse([]);
  expect(config.port).toBe(4848);
  expect(config.changeStreamer.port).toBe(4849);
  expect(config.litestream.port).toBe(4850);
  expect(config.app.id).toBe('zero');
  expect(config.app.publications).toEqual([]);
  expect(config.shard.num).toBe(0);
  expect(config.replica.file).toBe('zero.db');
  expect(config.yieldThresholdMs).toBe(10);
  expect(config.initialSync.tableCopyWorkers).toBe(5);
  expect(config.log.level).toBe('info');
  expect(config.log.format).toBe('text');
  expect(config.upstream.maxConns).toBe(20);
  expect(config.cvr.maxConns).toBe(30);
  expect(config.change.maxConns).toBe(5);
  expect(config.changeStreamer.mode).toBe('dedicated');
  expect(config.changeStreamer.startupDelayMs).toBe(15_000);
  expect(config.autoReset).toBe(true);
  expect(config.enableQueryPlanner).toBe(true);
  expect(config.mutate.forwardCookies).toBe(false);
  expect(config.perUserMutationLimit.windowMs).toBe(60_000);
  expect(config.litestream.logLevel).toBe('warn');
  expect(config.litestream.multipartSize).toBe(16 * 1024 * 1024);
  expect(config.upstream.db).toBeUndefined();
});

test('zcache-only options default to ./zero-data and port 5488', () => {
  const config = parse([]);
  expect(config.dataDir).toBe('./zero-data');
  expect(config.embeddedPgPort).toBe(5488);
  expect(parse(['--data-dir', '/d'], {...DEV, ZCACHE_EMBEDDED_PG_PORT: '6000'})).toMatchObject({
    dataDir: '/d',
    embeddedPgPort: 6000,
  });
});

test('CLI flags override the environment', () => {
  const config = parse(['--port', '5000', '--log-level=debug'], {...DEV, ZERO_PORT: '6000'});
  expect(config.port).toBe(5000);
  expect(config.log.level).toBe('debug');
});

test('the environment overrides the .env file, which overrides defaults', () => {
  const envFile = writeEnvFile('ZERO_PORT=7000\nZERO_APP_ID=from_file\nNODE_ENV=development\n');
  const config = parseConfig([], {ZERO_PORT: '6000'}, {envFile, warn: () => {}});
  expect(config.port).toBe(6000);
  expect(config.app.id).toBe('from_file');
  expect(config.replica.file).toBe('zero.db');
});

test('reading the .env file leaves process.env untouched', () => {
  const envFile = writeEnvFile('ZCACHE_TEST_ONLY_VARIABLE=1\n');
  parse([], DEV, {envFile});
  expect(process.env['ZCACHE_TEST_ONLY_VARIABLE']).toBeUndefined();
});

test('empty environment values count as unset', () => {
  expect(parse([], {...DEV, ZERO_PORT: ''}).port).toBe(4848);
});

test('derived defaults follow the options they derive from', () => {
  const upstream = 'postgres://u@localhost/app';
  const config = parse(['--port', '5000', '--upstream-db', upstream]);
  expect(config.cvr.db).toBe(upstream);
  expect(config.change.db).toBe(upstream);
  expect(config.changeStreamer.port).toBe(5001);
  expect(config.litestream.port).toBe(5002);
  expect(config.litestream.minCheckpointPageCount).toBe(40 * 250);
  expect(config.litestream.maxCheckpointPageCount).toBe(40 * 250 * 10);
});

test('explicit values win over derived defaults', () => {
  const config = parse([
    '--upstream-db=postgres://up/db',
    '--cvr-db=postgres://cvr/db',
    '--change-streamer-port=9000',
  ]);
  expect(config.cvr.db).toBe('postgres://cvr/db');
  expect(config.change.db).toBe('postgres://up/db');
  expect(config.changeStreamer.port).toBe(9000);
});

test('sync workers default to one less than the cores, at least one', () => {
  expect(parse([], DEV, {availableParallelism: 8}).numSyncWorkers).toBe(7);
  expect(parse([], DEV, {availableParallelism: 1}).numSyncWorkers).toBe(1);
  expect(parse(['--num-sync-workers', '0']).numSyncWorkers).toBe(0);
});

test('connections per worker split the pools over the sync workers', () => {
  const config = parse([], DEV, {availableParallelism: 5});
  expect(config.upstream.maxConnsPerWorker).toBe(5);
  expect(config.cvr.maxConnsPerWorker).toBe(7);
});

test('task id is random when unset and kept when set', () => {
  expect(parse([]).taskID).toBe('random-task');
  expect(parse(['--task-id', 'mine']).taskID).toBe('mine');
  const real = parseConfig([], DEV, {envFile: NO_ENV_FILE});
  expect(real.taskID).toMatch(/^[A-Za-z0-9_-]{21}$/);
});

test('booleans accept true, false, 1 and 0 in any case, and a bare flag means true', () => {
  expect(parse([], {...DEV, ZERO_AUTO_RESET: 'FALSE'}).autoReset).toBe(false);
  expect(parse([], {...DEV, ZERO_AUTO_RESET: '0'}).autoReset).toBe(false);
  expect(parse([], {...DEV, ZERO_LAZY_STARTUP: 'True'}).lazyStartup).toBe(true);
  expect(parse([], {...DEV, ZERO_LAZY_STARTUP: '1'}).lazyStartup).toBe(true);
  expect(parse(['--lazy-startup', '--port', '5000']).lazyStartup).toBe(true);
  expect(parse(['--auto-reset', 'false']).autoReset).toBe(false);
});

test('arrays are comma-separated, and CLI flags may take several values', () => {
  const env = {...DEV, ZERO_APP_PUBLICATIONS: 'pub_a, pub_b'};
  expect(parse([], env).app.publications).toEqual(['pub_a', 'pub_b']);
  const argv = [
    '--mutate-url',
    'https://a/m',
    'https://b/m',
    '--mutate-url=https://c/m,https://d/m',
  ];
  expect(parse(argv).mutate.url).toEqual([
    'https://a/m',
    'https://b/m',
    'https://c/m',
    'https://d/m',
  ]);
});

test('deprecated ZERO_PUSH_* and ZERO_GET_QUERIES_* set mutate and query options', () => {
  const warnings: string[] = [];
  const env = {
    ...DEV,
    ZERO_PUSH_URL: 'https://api/push',
    ZERO_PUSH_API_KEY: 'k',
    ZERO_GET_QUERIES_URL: 'https://api/q',
    ZERO_GET_QUERIES_FORWARD_COOKIES: 'true',
  };
  const config = parse([], env, {warn: (message) => warnings.push(message)});
  expect(config.mutate).toEqual({url: ['https://api/push'], apiKey: 'k', forwardCookies: false});
  expect(config.query).toEqual({url: ['https://api/q'], apiKey: undefined, forwardCookies: true});
  expect(warnings).toHaveLength(4);
  expect(warnings[0]).toContain('ZERO_MUTATE_URL');
});

test('a new spelling in a stronger source beats an alias in a weaker one', () => {
  const config = parse(['--query-url', 'https://cli/q'], {
    ...DEV,
    ZERO_GET_QUERIES_URL: 'https://env/q',
  });
  expect(config.query.url).toEqual(['https://cli/q']);
});

test('ZERO_PUSH_URL wins over ZERO_MUTATE_URL in the same source, as in zero-cache', () => {
  const env = {...DEV, ZERO_PUSH_URL: 'https://push', ZERO_MUTATE_URL: 'https://mutate'};
  expect(parse([], env).mutate.url).toEqual(['https://push']);
  const queries = {...DEV, ZERO_GET_QUERIES_URL: 'https://old', ZERO_QUERY_URL: 'https://new'};
  expect(parse([], queries).query.url).toEqual(['https://new']);
});

test('configToEnv gives back the same config when parsed again', () => {
  const config = parse(['--upstream-db', 'postgres://u@h/db', '--app-publications', 'a,b']);
  expect(parse([], {...DEV, ...configToEnv(config)})).toEqual(config);
});

test('withUpstreamDb points the CVR and change databases at the upstream unless set', () => {
  const config = withUpstreamDb(parse(['--cvr-db', 'postgres://cvr/db']), 'postgres://embedded/db');
  expect(config.upstream.db).toBe('postgres://embedded/db');
  expect(config.cvr.db).toBe('postgres://cvr/db');
  expect(config.change.db).toBe('postgres://embedded/db');
});
