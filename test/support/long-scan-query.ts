/**
 * A query AST that reads every row of `table` and keeps none (`v LIKE '%zz%'` over md5 text):
 * a long hydration that sends nothing until it ends. For tests and benchmarks of what happens
 * while one runs.
 */
export function longScanKeepingNothing(table: string): Record<string, unknown> {
  return {
    table,
    where: {
      type: 'simple',
      op: 'LIKE',
      left: {type: 'column', name: 'v'},
      right: {type: 'literal', value: '%zz%'},
    },
    orderBy: [['id', 'asc']],
  };
}
