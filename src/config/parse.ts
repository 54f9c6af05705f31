import {randomBytes} from 'node:crypto';
import {availableParallelism} from 'node:os';
import {resolve} from 'node:path';
import {ConfigError} from './config-error.js';
import {buildConfig} from './config-object.js';
import {checkRules} from './config-rules.js';
import {readArgvSettings, readEnvFile, readEnvSettings} from './config-sources.js';
import {resolveValues} from './config-values.js';
import {fillDerivedDefaults} from './derived-defaults.js';
import type {ZeroConfig} from './options.js';

export interface ParseConfigOptions {
  /** The .env file to read; default `.env` in the current directory. A missing file is fine. */
  envFile?: string;
  /** CPU cores, for the default --num-sync-workers; default os.availableParallelism(). */
  availableParallelism?: number;
  /** Makes the default --task-id; default a random 21-character id. */
  randomTaskID?: () => string;
  /** Receives one notice per deprecated option that is set; default console.warn. */
  warn?: (message: string) => void;
}

/**
 * The configuration from CLI flags, then `env`, then the .env file (first one that sets an option
 * wins), with zero-cache's defaults. Throws a ConfigError listing every problem found.
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  opts: ParseConfigOptions = {},
): ZeroConfig {
  const problems: string[] = [];
  const envFile = resolve(opts.envFile ?? '.env');
  const fileEnv = readEnvFile(envFile, problems);
  const sources = [
    readArgvSettings(argv, problems),
    readEnvSettings(env, 'the environment'),
    readEnvSettings(fileEnv, envFile),
  ];
  const resolved = resolveValues(sources, problems, opts.warn ?? console.warn);
  fillDerivedDefaults(resolved, {
    availableParallelism: opts.availableParallelism ?? availableParallelism(),
    randomTaskID: opts.randomTaskID ?? randomTaskID,
  });
  const config = buildConfig(resolved.values);
  const nodeEnv = env['NODE_ENV'] || fileEnv['NODE_ENV'] || undefined;
  problems.push(...checkRules({...resolved, config, nodeEnv}));
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return config;
}

function randomTaskID(): string {
  return randomBytes(16).toString('base64url').slice(0, 21);
}
