import type {Logger} from '../shared/log.js';
import {validatePublishedTable, type PublishedSchema} from './published-schema.js';

/**
 * Refuses to sync a published schema with tables that cannot be replicated (names, reserved
 * columns, REPLICA IDENTITY NOTHING), listing every problem; tables that replicate but cannot reach
 * clients (no usable key, unsupported column types) are reported as warnings, not dropped.
 */
export function checkSyncableTables(schema: PublishedSchema, log: Logger): void {
  const errors: string[] = [];
  for (const t of schema.tables) {
    const v = validatePublishedTable(t, schema.indexes);
    errors.push(...v.errors);
    for (const w of v.warnings) log.warn(`upstream: ${w}`);
    if (!v.syncable) {
      log.warn(
        `upstream: table "${t.schema}"."${t.name}" has no primary key or unique index over non-null columns: ` +
          'it is replicated (inserts only) but clients cannot sync it. Add a primary key to sync it.',
      );
    }
  }
  if (errors.length > 0) {
    throw new Error(
      `upstream: the published tables cannot be replicated:\n- ${errors.join('\n- ')}`,
    );
  }
}
