import {HELP_FLAGS} from './config-sources.js';
import {OPTION_SECTIONS} from './options.js';
import {
  envName,
  isHidden,
  isValueOption,
  type OptionSpec,
  type ValueOption,
} from './option-spec.js';

const WIDTH = 100;
const DETAIL_INDENT = '      ';

const INTRO = [
  'Usage: zero-cache [--flag value ...]',
  '',
  ...wrap(
    'Each option is read from its command-line flag, else its environment variable, else a .env ' +
      'file in the current directory. Lists are comma-separated; booleans are true, false, 1 or 0.',
    '',
  ),
];

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((token) => HELP_FLAGS.has(token));
}

/** The `zero-cache --help` text: every option that is not hidden, by section. */
export function renderHelp(): string {
  const lines = [...INTRO];
  for (const section of OPTION_SECTIONS) {
    const options: readonly OptionSpec[] = section.options;
    const shown = options.filter(isValueOption).filter((spec) => !isHidden(spec));
    if (shown.length > 0) {
      lines.push('', section.title, ...shown.flatMap(describeOption));
    }
  }
  return lines.join('\n') + '\n';
}

function describeOption(spec: ValueOption): string[] {
  return [
    `  --${spec.flag} <${typeLabel(spec)}>`,
    ...wrap(`${envName(spec)}, ${defaultLabel(spec)}`, DETAIL_INDENT),
    ...wrap(spec.help, DETAIL_INDENT),
  ];
}

function typeLabel(spec: ValueOption): string {
  if (spec.type === 'enum') {
    return (spec.values ?? []).join('|');
  }
  return spec.type === 'number' && spec.integer ? 'integer' : spec.type;
}

function defaultLabel(spec: ValueOption): string {
  if (spec.derived !== undefined) {
    return `default: ${spec.derived}`;
  }
  const value = spec.default;
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    return 'optional';
  }
  return `default: ${Array.isArray(value) ? value.join(',') : String(value)}`;
}

/** Word-wraps to WIDTH; a word longer than a line (a URL) gets a line of its own. */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > WIDTH) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') {
    lines.push(indent + line);
  }
  return lines;
}
