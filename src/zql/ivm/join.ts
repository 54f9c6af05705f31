import type {Node, Row, Value} from './data.js';
import {withRelationshipBefore} from './relationship-before.js';
import {
  NO_OUTPUT,
  PAUSE,
  type Change,
  type FetchRequest,
  type Input,
  type Output,
  type SourceSchema,
} from './operator.js';

/**
 * Join: attaches to each parent node a relationship `name` whose contents are the child input's
 * nodes with `childKey` equal to the parent's `parentKey` (null keys match nothing). Parent changes
 * pass through with the relationship attached; a child change becomes a `child` change of every
 * parent it belongs to.
 */
export interface JoinArgs {
  parent: Input;
  child: Input;
  parentKey: readonly string[];
  childKey: readonly string[];
  relationshipName: string;
  hidden: boolean;
  system?: 'permissions' | 'client' | 'test' | undefined;
}

export class Join implements Input {
  readonly #a: JoinArgs;
  readonly #schema: SourceSchema;
  #output: Output = NO_OUTPUT;
  /**
   * While a child change fans out to its parents (in parent order), parents after the one being
   * pushed have not been told about it yet: their relationship shows the state before it.
   */
  #inProgress: {change: Change; position: Row} | undefined;

  constructor(args: JoinArgs) {
    if (args.parentKey.length !== args.childKey.length || args.parentKey.length === 0) {
      throw new Error(`zql: join ${args.relationshipName} needs keys of equal, non-zero length`);
    }
    this.#a = args;
    const parentSchema = args.parent.getSchema();
    const childSchema = {...args.child.getSchema(), isHidden: args.hidden, system: args.system};
    this.#schema = {
      ...parentSchema,
      relationships: {...parentSchema.relationships, [args.relationshipName]: childSchema},
    };
    args.parent.setOutput({push: (change) => this.#pushParent(change)});
    args.child.setOutput({push: (change) => this.#pushChild(change)});
  }

  getSchema(): SourceSchema {
    return this.#schema;
  }

  setOutput(output: Output): void {
    this.#output = output;
  }

  destroy(): void {
    this.#a.parent.destroy();
    this.#a.child.destroy();
  }

  *fetch(req: FetchRequest): Iterable<Node> {
    for (const node of this.#a.parent.fetch(req))
      yield node === PAUSE ? node : this.#decorate(node);
  }

  #decorate(node: Node): Node {
    const constraint = correlate(node.row, this.#a.parentKey, this.#a.childKey);
    const child = this.#a.child;
    const name = this.#a.relationshipName;
    const decorated: Node = {
      row: node.row,
      relationships: {
        ...node.relationships,
        [name]: constraint ? () => child.fetch({constraint}) : () => [],
      },
    };
    const inProgress = this.#inProgress;
    if (
      inProgress &&
      constraint &&
      this.#schema.compareRows(node.row, inProgress.position) > 0 &&
      belongsTo(inProgress.change.node.row, constraint)
    ) {
      return withRelationshipBefore(decorated, name, inProgress.change, child.getSchema());
    }
    return decorated;
  }

  #pushParent(change: Change): void {
    if (change.type === 'child') {
      this.#output.push(
        {type: 'child', node: this.#decorate(change.node), child: change.child},
        this,
      );
    } else {
      this.#output.push({type: change.type, node: this.#decorate(change.node)}, this);
    }
  }

  #pushChild(change: Change): void {
    const constraint = correlate(change.node.row, this.#a.childKey, this.#a.parentKey);
    if (!constraint) return;
    const parents = [...this.#a.parent.fetch({constraint})];
    try {
      for (const parent of parents) {
        this.#inProgress = {change, position: parent.row};
        this.#output.push(
          {
            type: 'child',
            node: this.#decorate(parent),
            child: {relationshipName: this.#a.relationshipName, change},
          },
          this,
        );
      }
    } finally {
      this.#inProgress = undefined;
    }
  }
}

function belongsTo(childRow: Row, constraint: Record<string, Value>): boolean {
  return Object.entries(constraint).every(([k, v]) => childRow[k] === v);
}

/** `to`-columns = `from`-columns of `row`, or undefined when a key value is null. */
function correlate(
  row: Row,
  from: readonly string[],
  to: readonly string[],
): Record<string, Value> | undefined {
  const constraint: Record<string, Value> = {};
  for (let i = 0; i < from.length; i++) {
    const v = row[from[i]!];
    if (v === null || v === undefined) return undefined;
    constraint[to[i]!] = v;
  }
  return constraint;
}
