import {describe, expect, test} from 'vitest';
import {RowChangeWindow} from '../replica/row-change-window.js';
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

describe('skipping versions no pipeline can see', () => {
  function filtered() {
    const f = replicaFixture({
      item: {columns: {id: 'int4', v: 'text'}, primaryKey: ['id']},
      other: {columns: {id: 'int4'}, primaryKey: ['id']},
    });
    f.tx(...[1, 2, 3].map((id) => f.insert('item', {id, v: `v${id}`})));
    const window = new RowChangeWindow(f.db);
    window.refresh();
    const driver = new PipelineDriver(f.db);
    driver.addQuery('q', {
      table: 'item',
      where: {
        type: 'simple',
        op: '=',
        left: {type: 'column', name: 'v'},
        right: {type: 'literal', value: 'v1'},
      },
      orderBy: [['id', 'asc']],
    });
    const step = (): StepResult => {
      const gen = driver.step((r) => r);
      for (let r = gen.next(); ; r = gen.next()) if (r.done) return r.value;
    };
    step();
    const since = () => {
      window.refresh();
      return window.since(driver.version!);
    };
    return {f, driver, step, since};
  }

  test('a row that fails the filter before and after its change is skipped', () => {
    const {f, driver, since} = filtered();
    const v = f.tx(f.update('item', {id: 2, v: 'still not v1'}), f.insert('other', {id: 9}));
    expect(driver.skipUnaffected(since())).toBe(true);
    expect(driver.version).toBe(v);
  });

  test('a row that enters or leaves the filter needs a step', () => {
    const {f, driver, since, step} = filtered();
    f.tx(f.update('item', {id: 2, v: 'v1'}));
    expect(driver.skipUnaffected(since())).toBe(false);
    expect(step().queries[0]!.patches).toEqual([
      expect.objectContaining({op: 'put', key: {id: 2}}),
    ]);
    f.tx(f.update('item', {id: 1, v: 'gone'}));
    expect(driver.skipUnaffected(since())).toBe(false);
  });

  test('a query waiting to hydrate needs a step', () => {
    const {f, driver, since} = filtered();
    f.tx(f.insert('other', {id: 9}));
    driver.addQuery('q2', {table: 'other', orderBy: [['id', 'asc']]});
    expect(driver.skipUnaffected(since())).toBe(false);
  });

  test('changes the window does not cover need a step', () => {
    const {driver} = filtered();
    expect(driver.skipUnaffected(undefined)).toBe(false);
  });
});
