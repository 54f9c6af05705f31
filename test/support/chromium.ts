import {execFile} from 'node:child_process';
import {existsSync, readFileSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import sparticuz, {inflate} from '@sparticuz/chromium';
import type {LaunchOptions} from 'playwright-core';

/**
 * How the browser tests get a headless Chromium, in this order of precedence:
 *
 * 1. `CHROMIUM_PATH`, if set: that binary (a system Chromium, say), and nothing else is tried.
 * 2. Otherwise the one `npm ci` installed: @sparticuz/chromium ships a brotli-compressed headless
 *    Chromium for x64 Linux inside its npm tarball (no install script, no download). The first
 *    launch on a machine unpacks it into the OS temp directory (`/tmp/chromium`, with its fonts and
 *    SwiftShader beside it, about 2 s); later launches reuse it. Its NSS, NSPR and expat libraries
 *    come from the same package (`/tmp/al2023/lib`, put first on the browser's LD_LIBRARY_PATH),
 *    so beyond glibc it needs nothing from the system.
 *
 * There is no fallback to a system `/usr/bin/chromium`: when the npm one fails the test should say
 * so, not quietly pass on a browser a fresh machine doesn't have.
 */
export async function chromiumLaunchOptions(): Promise<LaunchOptions> {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    if (!existsSync(override)) throw new Error(`CHROMIUM_PATH=${override} does not exist`);
    return {
      executablePath: override,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    };
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.LD_LIBRARY_PATH = [path.join(tmpdir(), 'al2023', 'lib'), process.env.LD_LIBRARY_PATH]
    .filter(Boolean)
    .join(':');
  env.FONTCONFIG_PATH = path.join(tmpdir(), 'fonts');
  return {executablePath: await unpackedChromium(env), args: SPARTICUZ_ARGS, env};
}

/**
 * The package's recommended flags (made for AWS Lambda) less three: `--single-process`, which only
 * Lambda's sandboxing needs (the browser runs as a normal multi-process Chromium here), and
 * `--disable-web-security` and `--allow-running-insecure-content`, which would switch off CORS and
 * mixed-content checks, so the demo's cross-origin calls would pass even with the servers' CORS
 * wrong. It keeps `--no-sandbox` (tests run as root) and adds `--disable-dev-shm-usage`.
 */
const SPARTICUZ_ARGS = [
  ...sparticuz.args.filter(
    (a) =>
      !['--single-process', '--disable-web-security', '--allow-running-insecure-content'].includes(
        a,
      ),
  ),
  '--disable-dev-shm-usage',
];

const PACKAGE_BIN = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')),
  '..',
  'bin',
);
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(path.join(PACKAGE_BIN, '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/**
 * Unpacks (or reuses) the package's Chromium and checks that `chromium --version` runs and is the
 * package's major version. The package takes an existing `/tmp/chromium` as done, so a leftover
 * from an interrupted unpack or from another version of the package is unpacked again (after a
 * pause first, in case another test run is unpacking it right now).
 */
async function unpackedChromium(env: Record<string, string>): Promise<string> {
  const unpack = async () => {
    const exe = await sparticuz.executablePath(PACKAGE_BIN);
    await inflate(path.join(PACKAGE_BIN, 'al2023.tar.br')); // unpacked on Lambda only, by itself
    return exe;
  };
  let exe = await unpack();
  let problem = await versionProblem(exe, env);
  if (problem) {
    await new Promise((r) => setTimeout(r, 5_000));
    problem = await versionProblem(exe, env);
  }
  if (problem) {
    for (const f of ['chromium', 'libEGL.so', 'libGLESv2.so', 'libvk_swiftshader.so']) {
      rmSync(path.join(tmpdir(), f), {force: true});
    }
    exe = await unpack();
    problem = await versionProblem(exe, env);
  }
  if (problem) throw new Error(`the Chromium of @sparticuz/chromium does not start: ${problem}`);
  return exe;
}

async function versionProblem(exe: string, env: Record<string, string>): Promise<string | null> {
  const major = PACKAGE_VERSION.split('.')[0];
  try {
    const {stdout} = await promisify(execFile)(exe, ['--version'], {env, timeout: 20_000});
    return stdout.startsWith(`Chromium ${major}.`)
      ? null
      : `${exe} --version printed ${JSON.stringify(stdout.trim())}, not Chromium ${major}`;
  } catch (e) {
    return `${exe} --version failed: ${String(e)} (try: ldd ${exe})`;
  }
}
