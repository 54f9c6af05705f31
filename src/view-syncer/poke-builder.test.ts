import {expect, test} from 'vitest';
import type {DownstreamMessage} from '../protocol/sync-down.js';
import {silentLogger} from '../shared/log.js';
import {PokeBuilder, pendingPoke} from './poke-builder.js';

function builder(baseCookie: string | null, cookie: string) {
  const sent: DownstreamMessage[] = [];
  const b = new PokeBuilder(
    {send: (m) => sent.push(m)},
    {baseCookie, cookie, shardSchema: 'zero_0', clientGroupID: 'g1'},
  );
  return {b, sent};
}

test('a poke is start, parts of at most 100 patches, end with the new cookie', () => {
  const {b, sent} = builder('0a', '0b');
  for (let i = 0; i < 150; i++)
    b.row({id: `t/${i}`, table: 'issue', key: {id: i}, row: {id: i, _0_version: '0b'}});
  b.end();
  expect(sent.map((m) => m[0])).toEqual(['pokeStart', 'pokePart', 'pokePart', 'pokeEnd']);
  expect(sent[0]![1]).toMatchObject({pokeID: '0b', baseCookie: '0a'});
  expect((sent[1]![1] as {rowsPatch: unknown[]}).rowsPatch).toHaveLength(100);
  expect((sent[1]![1] as {rowsPatch: {value: object}[]}).rowsPatch[0]!.value).toEqual({id: 0});
  expect(sent[3]![1]).toEqual({pokeID: '0b', cookie: '0b'});
});

test('mutation bookkeeping rows become lastMutationIDChanges and mutationsPatch', () => {
  const {b, sent} = builder(null, '0b');
  b.row({
    id: 'a',
    table: 'zero_0.clients',
    key: {},
    row: {clientGroupID: 'g1', clientID: 'c1', lastMutationID: 7, _0_version: '0b'},
  });
  b.row({
    id: 'b',
    table: 'zero_0.clients',
    key: {},
    row: {clientGroupID: 'other', clientID: 'c9', lastMutationID: 9, _0_version: '0b'},
  });
  b.row({
    id: 'c',
    table: 'zero_0.mutations',
    key: {},
    row: {
      clientGroupID: 'g1',
      clientID: 'c1',
      mutationID: 7,
      result: {error: 'app'},
      _0_version: '0b',
    },
  });
  b.row({
    id: 'd',
    table: 'zero_0.mutations',
    key: {clientGroupID: 'g1', clientID: 'c1', mutationID: 6},
  });
  b.end();
  expect(sent[1]![1]).toEqual({
    pokeID: '0b',
    lastMutationIDChanges: {c1: 7},
    mutationsPatch: [
      {op: 'put', mutation: {id: {clientID: 'c1', id: 7}, result: {error: 'app'}}},
      {op: 'del', id: {clientID: 'c1', id: 6}},
    ],
  });
});

test('a version change with no patches still sends start and end; no change sends nothing', () => {
  const moved = builder('0a', '0b');
  moved.b.end();
  expect(moved.sent.map((m) => m[0])).toEqual(['pokeStart', 'pokeEnd']);
  const same = builder('0b', '0b');
  same.b.end();
  expect(same.sent).toEqual([]);
});

function builtPoke(from: string, to: string) {
  const {b, sent} = builder(from, to);
  b.row({id: 't/1', table: 'issue', key: {id: 1}, row: {id: 1, _0_version: to}});
  b.end();
  const received: DownstreamMessage[] = [];
  const client = {
    clientID: 'c1',
    cookie: from as string | null,
    send: (m: DownstreamMessage) => received.push(m),
  };
  return {poke: pendingPoke(client, sent, to, silentLogger), client, received};
}

test('a pending poke sends its parts first and its pokeEnd (moving the cookie) on finish', () => {
  const {poke, client, received} = builtPoke('0a', '0b');
  poke.sendParts();
  expect(received.map((m) => m[0])).toEqual(['pokeStart', 'pokePart']);
  expect(client.cookie).toBe('0a');
  poke.finish();
  expect(received.map((m) => m[0])).toEqual(['pokeStart', 'pokePart', 'pokeEnd']);
  expect(client.cookie).toBe('0b');
});

test('a pending poke cancelled after its parts ends with cancel and leaves the cookie', () => {
  const {poke, client, received} = builtPoke('0a', '0b');
  poke.sendParts();
  poke.cancel();
  expect(received[2]).toEqual(['pokeEnd', {pokeID: '0b', cookie: '', cancel: true}]);
  expect(client.cookie).toBe('0a');
});

test('a pending poke cancelled before its parts sends nothing', () => {
  const {poke, received} = builtPoke('0a', '0b');
  poke.cancel();
  expect(received).toEqual([]);
});
