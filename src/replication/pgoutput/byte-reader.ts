/** Reads big-endian fields in order, failing with context when the buffer is too short. */
export class ByteReader {
  #offset = 0;

  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}

  u8(): number {
    this.#need(1);
    return this.buf.readUInt8(this.#offset++);
  }

  i16(): number {
    this.#need(2);
    const v = this.buf.readInt16BE(this.#offset);
    this.#offset += 2;
    return v;
  }

  i32(): number {
    this.#need(4);
    const v = this.buf.readInt32BE(this.#offset);
    this.#offset += 4;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.#offset);
    this.#offset += 4;
    return v;
  }

  u64(): bigint {
    this.#need(8);
    const v = this.buf.readBigUInt64BE(this.#offset);
    this.#offset += 8;
    return v;
  }

  i64(): bigint {
    this.#need(8);
    const v = this.buf.readBigInt64BE(this.#offset);
    this.#offset += 8;
    return v;
  }

  char(): string {
    return String.fromCharCode(this.u8());
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.#offset);
    if (end < 0) throw this.error(`unterminated string at offset ${this.#offset}`);
    const s = this.buf.toString('utf8', this.#offset, end);
    this.#offset = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    this.#need(n);
    const b = this.buf.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return b;
  }

  rest(): Buffer {
    return this.bytes(this.buf.length - this.#offset);
  }

  end(): void {
    const left = this.buf.length - this.#offset;
    if (left !== 0) throw this.error(`${left} unexpected trailing byte(s)`);
  }

  error(problem: string): Error {
    return new Error(`${this.what}: ${problem}`);
  }

  #need(n: number): void {
    if (n < 0 || this.#offset + n > this.buf.length) {
      throw this.error(
        `truncated: needs ${n} byte(s) at offset ${this.#offset} of ${this.buf.length}`,
      );
    }
  }
}
