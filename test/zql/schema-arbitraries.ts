import fc from 'fast-check';
import type {ColumnType, FuzzColumn, FuzzSchema, FuzzTable, Row, TableData} from './fuzz-schema.js';
import {rowArb} from './value-arbitraries.js';

/**
 * Schemas of 2–4 tables `t0…t3`. Each has either an int key `id` or a composite key (`k1` int,
 * `k2` text), an always-present foreign-key-like `fk1`, and a random subset of optional columns.
 * Column names carry the value domain (see value-arbitraries.ts).
 */
const OPTIONAL_COLUMNS: {name: string; type: ColumnType}[] = [
  {name: 'fk2', type: 'int'},
  {name: 'n', type: 'int'},
  {name: 's', type: 'text'},
  {name: 'b', type: 'bool'},
  {name: 'r', type: 'real'},
];

const MAX_ROWS_PER_TABLE = 30;

function tableArb(name: string): fc.Arbitrary<FuzzTable> {
  return fc
    .record({
      compositeKey: fc.boolean(),
      fk1Nullable: fc.boolean(),
      // Per optional column: absent (null) or present with this nullability.
      optional: fc.tuple(...OPTIONAL_COLUMNS.map(() => fc.option(fc.boolean(), {nil: null}))),
    })
    .map(({compositeKey, fk1Nullable, optional}) => {
      const keyColumns: FuzzColumn[] = compositeKey
        ? [
            {name: 'k1', type: 'int', nullable: false},
            {name: 'k2', type: 'text', nullable: false},
          ]
        : [{name: 'id', type: 'int', nullable: false}];
      const columns: FuzzColumn[] = [
        ...keyColumns,
        {name: 'fk1', type: 'int', nullable: fk1Nullable},
      ];
      OPTIONAL_COLUMNS.forEach((c, i) => {
        const nullable = optional[i];
        if (nullable !== null && nullable !== undefined) columns.push({...c, nullable});
      });
      return {name, columns, primaryKey: keyColumns.map((c) => c.name)};
    });
}

export const schemaArb: fc.Arbitrary<FuzzSchema> = fc.integer({min: 2, max: 4}).chain((count) =>
  fc.tuple(...Array.from({length: count}, (_, i) => tableArb(`t${i}`))).map((tables) => ({
    tables,
  })),
);

function keyString(table: FuzzTable, row: Row): string {
  return JSON.stringify(table.primaryKey.map((c) => row[c]));
}

export function tableRowsArb(table: FuzzTable): fc.Arbitrary<Row[]> {
  return fc.uniqueArray(rowArb(table), {
    maxLength: MAX_ROWS_PER_TABLE,
    size: 'medium',
    selector: (row) => keyString(table, row),
  });
}

export function dataArb(schema: FuzzSchema): fc.Arbitrary<TableData> {
  const tables: Record<string, fc.Arbitrary<Row[]>> = {};
  for (const t of schema.tables) tables[t.name] = tableRowsArb(t);
  return fc.record(tables);
}
