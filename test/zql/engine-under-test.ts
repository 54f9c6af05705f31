import type Database from 'better-sqlite3';
import type {AST} from '../../src/protocol/ast.js';
import {readStateVersion} from '../../src/replica/replica-file.js';
import {readRowChanges} from '../../src/replica/row-changes.js';
import type {FuzzSchema, Row} from './fuzz-schema.js';
import {ivmEngine} from './ivm-engine.js';
import {evaluateQuery, type QueryResult, type ViewNode} from './sql-oracle.js';

/**
 * What the differential fuzzer drives. The real IVM engine implements this; `naive` re-runs the
 * oracle (it proves the harness), the `broken-*` engines have deliberate bugs (they prove the
 * fuzzer finds and shrinks failures).
 *
 * Values in `view()` / `synced()` rows are client values (see fuzz-schema.ts): booleans as
 * true/false, all columns of the table except `_0_version`.
 */
export interface EngineUnderTest {
  /** Hydrates `ast` over the replica file/db (tables created by the harness) at its current version. */
  hydrate(db: Database.Database, schema: FuzzSchema, ast: AST): MaintainedQuery;
}

export interface MaintainedQuery {
  /** Advances from the version it is at to the replica's current head (changes were applied since). */
  advance(): void;
  /** Root rows in order, each with one entry per `related` alias, recursively. */
  view(): ViewNode[];
  /** Every row the server must send, keyed `${table}/${JSON of PK values in PK order}`. */
  synced(): Map<string, Row>;
}

export type {ViewNode} from './sql-oracle.js';

export const naiveEngine: EngineUnderTest = {
  hydrate(db, schema, ast) {
    let result = evaluateQuery(db, schema, ast);
    return {
      advance: () => void (result = evaluateQuery(db, schema, ast)),
      view: () => result.view,
      synced: () => result.synced,
    };
  },
};

/** Bug: a transaction that deletes (or re-keys) any row leaves the result untouched. */
export const skipsDeletesEngine: EngineUnderTest = {
  hydrate(db, schema, ast) {
    let result = evaluateQuery(db, schema, ast);
    let version = readStateVersion(db)!;
    return {
      advance() {
        const head = readStateVersion(db)!;
        const deletes = readRowChanges(db, version, head).some((c) => c.op === 'd');
        if (!deletes) result = evaluateQuery(db, schema, ast);
        version = head;
      },
      view: () => result.view,
      synced: () => result.synced,
    };
  },
};

/** Bug: when the root query's limit is reached, the last row is dropped from the view. */
export const dropsLastLimitedRowEngine: EngineUnderTest = {
  hydrate(db, schema, ast) {
    const evaluate = (): QueryResult => {
      const result = evaluateQuery(db, schema, ast);
      const full = ast.limit !== undefined && ast.limit > 0 && result.view.length === ast.limit;
      return full ? {...result, view: result.view.slice(0, -1)} : result;
    };
    let result = evaluate();
    return {
      advance: () => void (result = evaluate()),
      view: () => result.view,
      synced: () => result.synced,
    };
  },
};

/** Engines selectable with `ZQL_ENGINE`. The lead registers the real engine here. */
export const ENGINES: Record<string, EngineUnderTest> = {
  ivm: ivmEngine,
  naive: naiveEngine,
  'broken-skips-deletes': skipsDeletesEngine,
  'broken-drops-last-limited-row': dropsLastLimitedRowEngine,
};

export const DEFAULT_ENGINE = 'ivm';

export function engineNamed(name: string): EngineUnderTest {
  const engine = ENGINES[name];
  if (!engine) {
    throw new Error(`ZQL_ENGINE=${name} is unknown; known: ${Object.keys(ENGINES).join(', ')}`);
  }
  return engine;
}
