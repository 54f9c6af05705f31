import {expect, test} from 'vitest';
import {CopyTextParser} from './copy-text-parser.js';

test('rows split across chunks at any byte are reassembled', () => {
  const text = Buffer.from('1\thé llo\t\\N\n2\ta\\tb\\nc\\\\d\t\\x41\\101\n');
  for (let cut = 1; cut < text.length; cut++) {
    const p = new CopyTextParser();
    const rows = [...p.push(text.subarray(0, cut)), ...p.push(text.subarray(cut))];
    p.end();
    expect(rows).toEqual([
      ['1', 'hé llo', null],
      ['2', 'a\tb\nc\\d', 'AA'],
    ]);
  }
});

test('a stream that ends inside a row is an error', () => {
  const p = new CopyTextParser();
  p.push(Buffer.from('1\tabc'));
  expect(() => p.end()).toThrow(/middle of a row/);
});
