import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type {AST} from '../src/protocol/ast.js';
import {ChangeApplier} from '../src/replicator/change-applier.js';
import {readStateVersion} from '../src/replica/replica-file.js';
import {versionToLexi, versionFromLexi} from '../src/shared/lexi-version.js';
import {buildPipeline, QueryRows, ReplicaSources} from '../src/zql/index.js';
import {scaled, type BenchContext} from './bench-context.js';
import {int, ms} from './figures.js';
import {summarize} from './percentiles.js';
import {buildIssueReplica} from './zql-dataset.js';

/**
 * Engine benchmarks on a replica file (no Postgres): cold hydration of representative queries
 * (median of runs, each on a fresh connection and pipeline), and the cost of pushing one upstream
 * row change through a hydrated query (apply with the replicator, then advance).
 */
const open = {
  type: 'simple',
  op: '=',
  left: {type: 'column', name: 'open'},
  right: {type: 'literal', value: true},
} as const;
const byModified = [['modified', 'desc']] as const;
const comments = (limit: number) =>
  ({
    correlation: {parentField: ['id'], childField: ['issueID']},
    subquery: {table: 'comment', alias: 'comments', orderBy: [['created', 'desc']], limit},
  }) as const;
const creator = {
  correlation: {parentField: ['creatorID'], childField: ['id']},
  subquery: {table: 'user', alias: 'creator', limit: 1},
} as const;
const labelled = {
  type: 'correlatedSubquery',
  op: 'EXISTS',
  related: {
    correlation: {parentField: ['id'], childField: ['issueID']},
    subquery: {
      table: 'issueLabel',
      alias: 'zsubq_labels',
      where: {
        type: 'correlatedSubquery',
        op: 'EXISTS',
        related: {
          correlation: {parentField: ['labelID'], childField: ['id']},
          subquery: {
            table: 'label',
            alias: 'zsubq_zhidden_labels',
            where: {
              type: 'simple',
              op: '=',
              left: {type: 'column', name: 'name'},
              right: {type: 'literal', value: 'bug'},
            },
          },
        },
      },
    },
  },
} as const;

export const QUERIES: Record<string, AST> = {
  'open issues by modified desc, limit 100': {
    table: 'issue',
    where: open,
    orderBy: byModified,
    limit: 100,
  },
  '… with 10 comments each and their creators': {
    table: 'issue',
    where: open,
    orderBy: byModified,
    limit: 100,
    related: [{...comments(10), subquery: {...comments(10).subquery, related: [creator]}}, creator],
  } as AST,
  'issues labelled "bug" (whereExists via junction), limit 100': {
    table: 'issue',
    where: labelled,
    orderBy: byModified,
    limit: 100,
  } as AST,
  'one issue by id with its comments': {
    table: 'issue',
    where: {
      type: 'simple',
      op: '=',
      left: {type: 'column', name: 'id'},
      right: {type: 'literal', value: 4242},
    },
    limit: 1,
    related: [comments(100)],
  } as AST,
};

export async function benchZqlHydration(ctx: BenchContext): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'zcache-bench-zql-'));
  try {
    const size = {issues: scaled(ctx, 100_000, 1000), commentsPerIssue: 5, users: 1000, labels: 50};
    const file = path.join(dir, 'replica.db');
    buildIssueReplica(file, size).close();
    ctx.report({
      bench: 'zql',
      metric: 'dataset',
      value: `${int(size.issues)} issues, ${int(size.issues * 5)} comments`,
    });
    for (const [name, ast] of Object.entries(QUERIES)) {
      const times: number[] = [];
      let rowCount = 0;
      for (let run = 0; run < 5; run++) {
        const db = new Database(file, {readonly: true});
        const t0 = performance.now();
        const sources = new ReplicaSources(db);
        const rows = new QueryRows(buildPipeline(ast, sources));
        for (const _ of sources.readSliced(rows.hydrate()));
        times.push(performance.now() - t0);
        rowCount = rows.rows().size;
        db.close();
      }
      ctx.report({
        bench: 'zql',
        metric: `hydrate: ${name}`,
        value: ms(summarize(times).p50),
        notes: `median of 5; ${int(rowCount)} rows synced`,
      });
    }
    benchPushCost(ctx, file);
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

function benchPushCost(ctx: BenchContext, file: string): void {
  const writer = new Database(file);
  const reader = new Database(file, {readonly: true});
  const sources = new ReplicaSources(reader);
  const rows = new QueryRows(
    buildPipeline(QUERIES['… with 10 comments each and their creators']!, sources),
  );
  let version = (() => {
    const gen = sources.readSliced(rows.hydrate());
    for (let r = gen.next(); ; r = gen.next()) if (r.done) return r.value;
  })();
  const applier = new ChangeApplier(writer, readStateVersion(writer)!);
  const rel = (name: string) => ({schema: 'public', name, keyColumns: ['id']});
  const pushes: number[] = [];
  let n = Number(versionFromLexi(version));
  const changes = scaled(ctx, 2000, 200);
  for (let i = 0; i < changes; i++) {
    const w = versionToLexi(++n);
    applier.begin(w);
    const id = (i * 7919) % 1000;
    applier.apply(
      i % 2 === 0
        ? {
            tag: 'update',
            relation: rel('issue'),
            key: null,
            new: {id, title: `t${i}`, open: 1, modified: 2e12 + i, creatorID: 1},
          }
        : {
            tag: 'insert',
            relation: rel('comment'),
            new: {id: 10_000_000 + i, issueID: id, body: 'new', created: 2e12 + i, creatorID: 2},
          },
    );
    applier.commit(w);
    const t0 = performance.now();
    const gen = sources.advance(version);
    let r = gen.next();
    while (!r.done) r = gen.next();
    if (r.value.kind === 'changes') version = r.value.to;
    rows.takeChanges();
    pushes.push(performance.now() - t0);
  }
  const s = summarize(pushes);
  ctx.report({
    bench: 'zql',
    metric: 'push one row change (advance a hydrated query)',
    value: `${ms(s.p50)} p50 / ${ms(s.p99)} p99`,
    notes: `${int(changes)} changes: issue updates that move rows into the top 100, comment inserts`,
  });
  writer.close();
  reader.close();
}
