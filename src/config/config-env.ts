import {readByKey} from './config-object.js';
import {VALUE_OPTIONS, type ZeroConfig} from './options.js';
import {envName} from './option-spec.js';

/**
 * The env variables from which parseConfig rebuilds `config`, for handing a parsed and defaulted
 * config to child processes (as zero-cache does with its workers).
 */
export function configToEnv(config: ZeroConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const spec of VALUE_OPTIONS) {
    const value = readByKey(config, spec.key);
    if (value !== undefined) {
      env[envName(spec)] = Array.isArray(value) ? value.join(',') : String(value);
    }
  }
  return env;
}
