import fc from 'fast-check';
import {describe, expect, test} from 'vitest';
import {readStateVersion} from '../../src/replica/replica-file.js';
import {readRowChanges} from '../../src/replica/row-changes.js';
import {versionToLexi} from '../../src/shared/lexi-version.js';
import {dataBeforeTransaction, type FuzzCase, type Row} from './fuzz-schema.js';
import {FuzzReplica} from './fuzz-replica.js';
import {fuzzCaseArb} from './generators.js';
import {fromSqliteValue, ident} from './oracle-sql.js';
import {rows, table} from './oracle-fixtures.js';

/**
 * The harness's replica, written through the real ChangeApplier, must hold exactly what the
 * harness's model says (so reports' "data before" and the oracle agree).
 */
function replicaContents(replica: FuzzReplica, c: FuzzCase): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  for (const t of c.schema.tables) {
    const raw = replica.db.prepare(`SELECT * FROM ${ident(t.name)}`).all() as Record<
      string,
      unknown
    >[];
    out[t.name] = raw
      .map((r) =>
        Object.fromEntries(t.columns.map((col) => [col.name, fromSqliteValue(col, r[col.name])])),
      )
      .sort(byKey(t.primaryKey));
  }
  return out;
}

function byKey(pk: string[]) {
  return (a: Row, b: Row) =>
    JSON.stringify(pk.map((k) => a[k])) < JSON.stringify(pk.map((k) => b[k])) ? -1 : 1;
}

describe('fuzz replica', () => {
  test('holds the modelled data after every transaction', () => {
    for (const c of fc.sample(fuzzCaseArb, {numRuns: 150, seed: 7})) {
      const replica = new FuzzReplica(c.schema);
      try {
        replica.load(c.data);
        c.transactions.forEach((tx, i) => {
          replica.applyTransaction(tx);
          const model = dataBeforeTransaction(c, i + 1);
          for (const t of c.schema.tables)
            model[t.name] = [...(model[t.name] ?? [])].sort(byKey(t.primaryKey));
          expect(replicaContents(replica, c)).toEqual(model);
        });
      } finally {
        replica.close();
      }
    }
  });

  test('a key-changing update is a delete of the old key and a set of the new one', () => {
    const t = table('t', 'id int, flag bool?');
    const replica = new FuzzReplica({tables: [t]});
    try {
      replica.load({t: rows('id, flag', [1, true])});
      expect(readStateVersion(replica.db)).toBe(versionToLexi(2));
      replica.applyTransaction([
        {op: 'update', table: 't', oldKey: {id: 1}, row: {id: 5, flag: false}},
      ]);
      expect(readStateVersion(replica.db)).toBe(versionToLexi(3));
      const changes = readRowChanges(replica.db, versionToLexi(2), versionToLexi(3));
      expect(changes.map((ch) => [ch.op, ch.rowKey])).toEqual([
        ['d', {id: 1}],
        ['s', {id: 5}],
      ]);
      expect(replica.db.prepare('SELECT id, flag FROM t').all()).toEqual([{id: 5, flag: 0}]);
    } finally {
      replica.close();
    }
  });
});
