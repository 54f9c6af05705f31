import Database from 'better-sqlite3';
import type {ColumnSpec, TableSpec} from '../src/protocol/change-stream.js';
import {createMetaTables, writeStateVersion} from '../src/replica/replica-file.js';
import {createPrimaryKeyIndex, createTable} from '../src/replica/table-ddl.js';
import {versionToLexi} from '../src/shared/lexi-version.js';

/**
 * An issue-tracker replica for engine benchmarks, written straight into SQLite with the replica's
 * real layout (no Postgres needed): users, issues, comments, labels and an issue↔label junction.
 * Deterministic: row i's values derive from i.
 */
export interface DatasetSize {
  issues: number;
  commentsPerIssue: number;
  users: number;
  labels: number;
}

type Cols = Record<string, string>;

const TABLES: Record<string, {columns: Cols; pk: string[]}> = {
  user: {columns: {id: 'int4', name: 'text'}, pk: ['id']},
  issue: {
    columns: {id: 'int4', title: 'text', open: 'bool', modified: 'float8', creatorID: 'int4'},
    pk: ['id'],
  },
  comment: {
    columns: {id: 'int4', issueID: 'int4', body: 'text', created: 'float8', creatorID: 'int4'},
    pk: ['id'],
  },
  label: {columns: {id: 'int4', name: 'text'}, pk: ['id']},
  issueLabel: {columns: {issueID: 'int4', labelID: 'int4'}, pk: ['issueID', 'labelID']},
};

export function buildIssueReplica(file: string, size: DatasetSize): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  createMetaTables(db);
  writeStateVersion(db, versionToLexi(1));
  for (const [name, t] of Object.entries(TABLES)) {
    const columns: Record<string, ColumnSpec> = {};
    Object.entries(t.columns).forEach(([c, type], i) => {
      columns[c] = {pos: i + 1, dataType: type, typeOID: 0, notNull: t.pk.includes(c)};
    });
    const spec: TableSpec = {schema: 'public', name, columns, primaryKey: t.pk};
    createTable(db, spec, versionToLexi(1));
  }
  db.transaction(() => fill(db, size))();
  for (const [name, t] of Object.entries(TABLES)) {
    createPrimaryKeyIndex(db, {schema: 'public', name, columns: {}, primaryKey: t.pk});
  }
  db.exec('CREATE INDEX issue_modified ON issue (modified)');
  db.exec('CREATE INDEX comment_issue ON comment ("issueID", created)');
  db.exec('CREATE INDEX issue_label_label ON "issueLabel" ("labelID")');
  db.exec('ANALYZE');
  return db;
}

function fill(db: Database.Database, size: DatasetSize): void {
  const user = db.prepare('INSERT INTO user VALUES (?, ?, ?)');
  for (let i = 0; i < size.users; i++) user.run(i, `user ${i}`, '01');
  const label = db.prepare('INSERT INTO label VALUES (?, ?, ?)');
  for (let i = 0; i < size.labels; i++) label.run(i, i === 0 ? 'bug' : `label ${i}`, '01');
  const issue = db.prepare('INSERT INTO issue VALUES (?, ?, ?, ?, ?, ?)');
  const comment = db.prepare('INSERT INTO comment VALUES (?, ?, ?, ?, ?, ?)');
  const issueLabel = db.prepare('INSERT INTO "issueLabel" VALUES (?, ?, ?)');
  let commentID = 0;
  for (let i = 0; i < size.issues; i++) {
    issue.run(
      i,
      `issue ${i}`,
      i % 3 === 0 ? 0 : 1,
      1e12 + ((i * 7919) % size.issues) * 1000,
      i % size.users,
      '01',
    );
    for (let c = 0; c < size.commentsPerIssue; c++) {
      comment.run(
        commentID,
        i,
        `comment ${commentID}`,
        1e12 + commentID,
        commentID % size.users,
        '01',
      );
      commentID++;
    }
    issueLabel.run(i, i % size.labels, '01');
    if (i % 5 === 0) issueLabel.run(i, (i + 1) % size.labels, '01');
  }
}
