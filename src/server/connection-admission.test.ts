import {expect, test} from 'vitest';
import {ConnectionAdmission} from './connection-admission.js';

test('a group is refused once it has its limit of sockets, and admitted again after one closes', () => {
  const admission = new ConnectionAdmission({perWorker: 100, perGroup: 2});
  const first = admission.tryAdmit('g');
  expect(admission.tryAdmit('g').admitted).toBe(true);
  const third = admission.tryAdmit('g');
  expect(third).toMatchObject({
    admitted: false,
    reason: expect.stringMatching(/ZCACHE_MAX_CLIENTS_PER_CLIENT_GROUP/),
  });
  expect(admission.tryAdmit('other').admitted).toBe(true);
  if (first.admitted) first.release();
  expect(admission.tryAdmit('g').admitted).toBe(true);
});

test('the worker refuses sockets beyond its limit, whatever their groups', () => {
  const admission = new ConnectionAdmission({perWorker: 3, perGroup: 64});
  for (const g of ['a', 'b', 'c']) expect(admission.tryAdmit(g).admitted).toBe(true);
  expect(admission.tryAdmit('d')).toMatchObject({
    admitted: false,
    reason: expect.stringMatching(/ZCACHE_MAX_CONNECTIONS_PER_SYNC_WORKER/),
  });
});

test('releasing a socket twice counts once', () => {
  const admission = new ConnectionAdmission({perWorker: 3, perGroup: 3});
  const a = admission.tryAdmit('g');
  admission.tryAdmit('g');
  if (a.admitted) {
    a.release();
    a.release();
  }
  expect(admission.total).toBe(1);
});
