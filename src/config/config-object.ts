import type {ConfigValue} from './config-values.js';
import type {ZeroConfig} from './options.js';
import {VALUE_OPTIONS} from './options.js';

/** Nests values keyed `group.field` into ZeroConfig's shape; every group exists, fields may be unset. */
export function buildConfig(values: ReadonlyMap<string, ConfigValue | undefined>): ZeroConfig {
  const config: Record<string, unknown> = {};
  for (const {key} of VALUE_OPTIONS) {
    const [group, field] = splitKey(key);
    if (field === undefined) {
      config[group] = values.get(key);
    } else {
      const fields = (config[group] ??= {}) as Record<string, unknown>;
      fields[field] = values.get(key);
    }
  }
  return config as ZeroConfig;
}

export function readByKey(config: ZeroConfig, key: string): unknown {
  const [group, field] = splitKey(key);
  const top = (config as unknown as Record<string, unknown>)[group];
  return field === undefined ? top : (top as Record<string, unknown>)[field];
}

function splitKey(key: string): [string, string | undefined] {
  const dot = key.indexOf('.');
  return dot < 0 ? [key, undefined] : [key.slice(0, dot), key.slice(dot + 1)];
}
