/**
 * Parses the Postgres COPY text format (`COPY ... TO STDOUT`) from a stream of chunks: rows end with
 * `\n`, fields are separated by tabs, `\N` is NULL, and backslash escapes (\b \f \n \r \t \v \\,
 * octal \ooo, hex \xhh) stand for bytes. Chunks may split rows (and UTF-8 sequences) anywhere.
 */
export class CopyTextParser {
  #pending: Buffer[] = [];

  /** Returns the rows completed by this chunk; each field is a string or null. */
  push(chunk: Buffer): (string | null)[][] {
    const rows: (string | null)[][] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const line = this.#pending.length ? Buffer.concat([...this.#pending, piece]) : piece;
      this.#pending = [];
      rows.push(parseLine(line));
      start = nl + 1;
    }
    if (start < chunk.length) this.#pending.push(chunk.subarray(start));
    return rows;
  }

  /** Asserts that the stream ended on a row boundary. */
  end(): void {
    if (this.#pending.length > 0) {
      throw new Error('copy: stream ended in the middle of a row');
    }
  }
}

function parseLine(line: Buffer): (string | null)[] {
  const fields: (string | null)[] = [];
  let start = 0;
  for (;;) {
    const tab = line.indexOf(9, start);
    const end = tab === -1 ? line.length : tab;
    fields.push(parseField(line.subarray(start, end)));
    if (tab === -1) return fields;
    start = tab + 1;
  }
}

function parseField(f: Buffer): string | null {
  if (f.length === 2 && f[0] === 92 && f[1] === 78) return null; // \N
  if (f.indexOf(92) === -1) return f.toString('utf8');
  return unescapeField(f).toString('utf8');
}

const SIMPLE_ESCAPES: Record<number, number> = {
  98: 8, // \b
  102: 12, // \f
  110: 10, // \n
  114: 13, // \r
  116: 9, // \t
  118: 11, // \v
};

function unescapeField(f: Buffer): Buffer {
  const out = Buffer.allocUnsafe(f.length);
  let o = 0;
  for (let i = 0; i < f.length; i++) {
    const c = f[i]!;
    if (c !== 92 || i + 1 >= f.length) {
      out[o++] = c;
      continue;
    }
    const n = f[++i]!;
    if (SIMPLE_ESCAPES[n] !== undefined) {
      out[o++] = SIMPLE_ESCAPES[n];
    } else if (n >= 48 && n <= 55) {
      let v = n - 48;
      for (let k = 0; k < 2 && i + 1 < f.length && f[i + 1]! >= 48 && f[i + 1]! <= 55; k++) {
        v = v * 8 + (f[++i]! - 48);
      }
      out[o++] = v & 0xff;
    } else if (n === 120 && i + 1 < f.length && isHex(f[i + 1]!)) {
      let v = hexVal(f[++i]!);
      if (i + 1 < f.length && isHex(f[i + 1]!)) v = v * 16 + hexVal(f[++i]!);
      out[o++] = v;
    } else {
      out[o++] = n; // \\ and any other escaped character stand for themselves
    }
  }
  return out.subarray(0, o);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hexVal(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87;
}
