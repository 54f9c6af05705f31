import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import * as prettier from 'prettier';
import type {FuzzCase} from './fuzz-schema.js';

/**
 * The regression corpus: fixed fuzzer failures, committed under test/zql/corpus/ as one JSON file
 * per case and replayed (in file-name order) before any random case.
 *
 * To add one: when the fuzzer fails it writes the minimized case to a temporary file and prints
 * its path. Fix the bug, then copy that file into test/zql/corpus/ under a descriptive name (e.g.
 * `take-refill-after-delete.json`), replace the FIXME `description` with what went wrong, and run
 * `npx prettier --write test/zql/corpus`. Or, from a script, `await saveCase(testCase,
 * 'take-refill-after-delete', 'what went wrong')`. File format: `{"description", "case": FuzzCase}`.
 */
export const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url));

export interface CorpusEntry {
  name: string;
  description: string;
  testCase: FuzzCase;
}

interface CorpusFile {
  description: string;
  case: FuzzCase;
}

export function loadCorpus(dir = CORPUS_DIR): CorpusEntry[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((f) => {
    const file = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CorpusFile;
    return {name: f.replace(/\.json$/, ''), description: file.description, testCase: file.case};
  });
}

function serialize(testCase: FuzzCase, description: string): string {
  const file: CorpusFile = {description, case: testCase};
  return JSON.stringify(file, null, 2) + '\n';
}

function caseFile(dir: string, name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new Error(`corpus case name "${name}": use lowercase letters, digits and dashes`);
  }
  mkdirSync(dir, {recursive: true});
  return path.join(dir, `${name}.json`);
}

/**
 * Writes `testCase` as corpus/<name>.json (or into `dir`), formatted with the project's Prettier
 * settings so `prettier --check` stays clean, and returns the file's path.
 */
export async function saveCase(
  testCase: FuzzCase,
  name: string,
  description: string,
  dir = CORPUS_DIR,
): Promise<string> {
  const file = caseFile(dir, name);
  const config = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(
    file,
    await prettier.format(serialize(testCase, description), {...config, filepath: file}),
  );
  return file;
}

/** Writes a failing (shrunk) case to the temp dir, ready to be copied into the corpus. */
export function saveFailingCase(
  testCase: FuzzCase,
  engineName: string,
  seed: number,
  report: string,
): string {
  const dir = path.join(tmpdir(), 'zql-fuzz-failures');
  const firstLine = report.split('\n', 1)[0] ?? 'fuzzer failure';
  const name = `${engineName}-seed-${seed >>> 0}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const file = caseFile(dir, name);
  writeFileSync(file, serialize(testCase, `FIXME: ${firstLine}`));
  return file;
}
