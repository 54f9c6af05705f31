import {createTestDatabase, type TestDatabase} from './pg.js';
import {createZcacheNode, type TableToCompare, type ZcacheNode} from './zcache-process.js';

/**
 * The fixture of the process-level tests: a database of its own with `item (id int PRIMARY KEY,
 * v text)` holding ids 1..`rows`, and a (not yet started) zcache node replicating it.
 */
export const ITEM: TableToCompare = {
  upstream: 'item',
  replica: 'item',
  columns: {id: 'number', v: 'text'},
  key: ['id'],
};

export interface ItemNode {
  db: TestDatabase;
  node: ZcacheNode;
  close(): Promise<void>;
}

export async function createItemNode(prefix: string, rows: number): Promise<ItemNode> {
  const db = await createTestDatabase(prefix);
  await db.sql.unsafe(`
    CREATE TABLE item (id int PRIMARY KEY, v text);
    INSERT INTO item SELECT g, 'v' || g FROM generate_series(1, ${rows}) g;`);
  const node = await createZcacheNode({upstreamUrl: db.url});
  return {
    db,
    node,
    async close() {
      await node.close();
      await db.drop();
    },
  };
}
