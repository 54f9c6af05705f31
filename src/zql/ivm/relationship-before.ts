import type {Node} from './data.js';
import type {Change, SourceSchema} from './operator.js';

/**
 * A node whose relationship `name` shows its contents as they were before `change` (an add or a
 * remove the relationship already reflects). Used when a child change turns into the removal of
 * the parent: downstream must see the subtree it was told about, not the new one.
 */
export function withRelationshipBefore(
  node: Node,
  name: string,
  change: Change,
  schema: SourceSchema,
): Node {
  const current = node.relationships[name]!;
  const changed = change.node;
  const pk = schema.primaryKey;
  const same = (a: Node) => pk.every((k) => a.row[k] === changed.row[k]);
  let before: () => Iterable<Node>;
  if (change.type === 'add') {
    before = function* () {
      for (const n of current()) if (!same(n)) yield n;
    };
  } else if (change.type === 'remove') {
    before = function* () {
      let placed = false;
      for (const n of current()) {
        if (!placed && schema.compareRows(changed.row, n.row) < 0) {
          placed = true;
          yield changed;
        }
        yield n;
      }
      if (!placed) yield changed;
    };
  } else {
    before = current;
  }
  return {row: node.row, relationships: {...node.relationships, [name]: before}};
}
