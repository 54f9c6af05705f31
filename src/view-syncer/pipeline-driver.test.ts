import {expect, test} from 'vitest';
import {replicaFixture} from '../../test/support/replica-fixture.js';
import {PipelineDriver, type StepResult} from './pipeline-driver.js';

function world() {
  const f = replicaFixture({item: {columns: {id: 'int4', v: 'text'}, primaryKey: ['id']}});
  f.tx(...[1, 2, 3].map((id) => f.insert('item', {id, v: `v${id}`})));
  let t = 0;
  // A clock that moves 30 ms every time it is read: hydration "costs" 30 ms, and an advancement
  // passes the 50 ms floor and the hydration budget at its second change.
  const driver = new PipelineDriver(f.db, () => (t += 30));
  driver.addQuery('q', {table: 'item', orderBy: [['id', 'asc']]});
  const step = (): StepResult => {
    const gen = driver.step((r) => r);
    for (let r = gen.next(); ; r = gen.next()) if (r.done) return r.value;
  };
  step();
  return {f, step};
}

test('an advancement within budget is pushed as a diff', () => {
  const {f, step} = world();
  f.tx(f.update('item', {id: 2, v: 'two'}));
  const r = step();
  expect(r.reset).toBe(false);
  expect(r.queries).toEqual([
    {
      queryHash: 'q',
      hydrated: false,
      patches: [expect.objectContaining({op: 'put', key: {id: 2}})],
    },
  ]);
});

test('the circuit breaker abandons a costly advancement and rehydrates at the head', () => {
  const {f, step} = world();
  f.tx(
    f.update('item', {id: 1, v: 'one'}),
    f.delete('item', {id: 2}),
    f.insert('item', {id: 4, v: 'v4'}),
  );
  const r = step();
  expect(r.reset).toBe(true);
  expect(r.queries).toHaveLength(1);
  expect(r.queries[0]!.hydrated).toBe(true);
  const rows = r.queries[0]!.patches.map((p) => [p.op, p.row?.id, p.row?.v]);
  expect(rows).toEqual([
    ['put', 1, 'one'],
    ['put', 3, 'v3'],
    ['put', 4, 'v4'],
  ]);
});
