import {inject} from 'vitest';
import {createScratchDatabase, type ScratchDatabase} from './scratch-database.js';

/** A fresh database on the test cluster (see global-setup.ts); each test file makes its own. */
export type TestDatabase = ScratchDatabase;

export function createTestDatabase(prefix = 'zc'): Promise<TestDatabase> {
  return createScratchDatabase(inject('pgAdminUrl'), prefix);
}
