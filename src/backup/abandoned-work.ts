import {readdir, rm} from 'node:fs/promises';
import path from 'node:path';

/**
 * The working folders that backups and restores make (with mkdtemp) and remove when they end. A
 * process killed meanwhile leaves its folder behind, as large as the replica (or its gzip), so
 * repeated crashes would fill the volume: each role removes its own kind on start.
 */
export const WORK_PREFIXES = {
  backup: '.zcache-backup-',
  restore: '.zcache-restore-',
} as const;

export type WorkKind = keyof typeof WORK_PREFIXES;

/**
 * Deletes the folders in `dir` named with `kind`'s prefix and returns their names; anything else
 * in `dir` (files included, whatever their name) is left alone. A missing `dir` holds nothing.
 * Only while no backup or restore of that kind works in `dir`: its folder would go too.
 */
export async function removeAbandonedWork(dir: string, kind: WorkKind): Promise<string[]> {
  const prefix = WORK_PREFIXES[kind];
  let entries;
  try {
    entries = await readdir(dir, {withFileTypes: true});
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot list ${dir} for abandoned ${kind} work: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const abandoned = entries
    .filter((e) => e.isDirectory() && e.name.startsWith(prefix))
    .map((e) => e.name);
  for (const name of abandoned) {
    const folder = path.join(dir, name);
    await rm(folder, {recursive: true, force: true}).catch((e: unknown) => {
      throw new Error(`cannot remove the abandoned ${kind} folder ${folder}: ${String(e)}`, {
        cause: e,
      });
    });
  }
  return abandoned;
}
