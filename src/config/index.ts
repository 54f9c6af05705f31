/**
 * config/: one declarative table of every zero-cache option (env name, flag, type, default, help)
 * plus zcache's own, from which parsing (flags > env > .env), validation, --help and docs come.
 * Everything else reads its settings from the ZeroConfig that parseConfig returns.
 */
export {ConfigError} from './config-error.js';
export {configToEnv} from './config-env.js';
export {withUpstreamDb} from './derived-defaults.js';
export {renderHelp, wantsHelp} from './help.js';
export {envName, type OptionSpec, type ValueOption} from './option-spec.js';
export {OPTION_SECTIONS, OPTIONS, type ZeroConfig} from './options.js';
export {parseConfig, type ParseConfigOptions} from './parse.js';
