import type Database from 'better-sqlite3';
import type {AST} from '../../src/protocol/ast.js';
import {
  buildPipeline,
  QueryRows,
  ReplicaSources,
  type Input,
  type Node,
  type SourceSchema,
} from '../../src/zql/index.js';
import {RowChangeWindow} from '../../src/replica/row-change-window.js';
import type {EngineUnderTest, MaintainedQuery, ViewNode} from './engine-under-test.js';
import type {Row} from './fuzz-schema.js';

/**
 * The real engine behind the fuzzer's interface: a pipeline over the replica, hydrated once, then
 * advanced through the per-row change list. `synced()` is the ref-counted row set maintained by
 * pushes; `view()` is fetched from the pipeline's current state (its operators' state after the
 * pushes), keeping only `related` relationships. As in a sync worker, a transaction that
 * `ReplicaSources.affectedBy` says the pipeline cannot see is skipped without pushing anything, so
 * the fuzzer also proves that promise.
 */
export const ivmEngine: EngineUnderTest = {
  hydrate(db: Database.Database, _schema, ast: AST): MaintainedQuery {
    const sources = new ReplicaSources(db);
    let input: Input;
    let rows: QueryRows;
    let version = '';
    const rebuild = () => {
      rows?.destroy();
      input = buildPipeline(ast, sources);
      rows = new QueryRows(input);
      version = sources.read((v) => {
        for (const _ of rows.hydrate());
        return v;
      });
    };
    rebuild();
    const window = new RowChangeWindow(db);
    window.refresh();
    return {
      advance() {
        window.refresh();
        const changes = window.since(version);
        if (changes && !sources.affectedBy(changes)) {
          version = changes.head;
          return;
        }
        const gen = sources.advance(version);
        let r = gen.next();
        while (!r.done) r = gen.next();
        if (r.value.kind === 'reset') rebuild();
        else version = r.value.to;
      },
      view: () =>
        sources.read(() => [...input.fetch({})].map((n) => toView(n, input.getSchema(), ast))),
      synced: () => new Map([...rows.rows()].map(([k, row]) => [k, clientRow(row)])),
    };
  },
};

function toView(node: Node, schema: SourceSchema, ast: AST): ViewNode {
  const relationships: Record<string, ViewNode[]> = {};
  for (const rel of ast.related ?? []) {
    const alias = rel.subquery.alias!;
    const childSchema = schema.relationships[alias]!;
    relationships[alias] = [...node.relationships[alias]!()].map((c) =>
      toView(c, childSchema, rel.subquery),
    );
  }
  return {row: clientRow(node.row), relationships};
}

function clientRow(row: Record<string, unknown>): Row {
  const {_0_version: _v, ...rest} = row;
  return rest as Row;
}
