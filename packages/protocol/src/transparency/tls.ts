/**
 * The TLS presentation language encoding (RFC 8446 §3) that draft-ietf-keytrans-protocol-06 §"Presentation
 * Language" uses for every structure it hashes, signs or sends: big-endian fixed-width integers, and variable-length
 * vectors `opaque x<0..2^k-1>` prefixed by their byte length in as many bytes as the upper bound needs (1, 2 or 4).
 * `optional<T>` is a presence byte (0 or 1) then T. Decoding is strict: truncation, an oversized vector, an
 * invalid presence byte and trailing bytes throw ProtocolError DECODE_ERROR.
 */
import { ProtocolError, ProtocolErrorCode } from '../errors.js';

export class TlsWriter {
  private buffer = new Uint8Array(128);
  private offset = 0;

  private ensure(extra: number): void {
    if (this.offset + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.offset + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.offset));
    this.buffer = next;
  }

  private uint(value: number, bytes: 1 | 2 | 4): this {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * bytes)) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `uint${8 * bytes} out of range`);
    this.ensure(bytes);
    for (let i = bytes - 1; i >= 0; i--) this.buffer[this.offset++] = Math.floor(value / 2 ** (8 * i)) & 0xff;
    return this;
  }

  u8(value: number): this {
    return this.uint(value, 1);
  }

  u16(value: number): this {
    return this.uint(value, 2);
  }

  u32(value: number): this {
    return this.uint(value, 4);
  }

  /** uint64, from a number (a timestamp in ms, a tree size: always below 2^53) or a bigint. */
  u64(value: number | bigint): this {
    const v = BigInt(value);
    if (v < 0n || v > 0xffffffffffffffffn) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'uint64 out of range');
    this.ensure(8);
    new DataView(this.buffer.buffer).setBigUint64(this.offset, v);
    this.offset += 8;
    return this;
  }

  /** Bytes of a length both sides know (`opaque x[N]`). */
  fixed(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  /** `opaque x<0..2^(8·lengthBytes)-1>`. */
  vector(bytes: Uint8Array, lengthBytes: 1 | 2 | 4): this {
    this.uint(bytes.length, lengthBytes);
    return this.fixed(bytes);
  }

  /** A vector of encoded items: the items written by `write`, prefixed by their total byte length. */
  list<T>(items: readonly T[], lengthBytes: 1 | 2 | 4, write: (w: TlsWriter, item: T) => void): this {
    const inner = new TlsWriter();
    for (const item of items) write(inner, item);
    return this.vector(inner.finish(), lengthBytes);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.offset);
  }
}

function decodeError(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.Decode, message);
}

export class TlsReader {
  private offset = 0;

  constructor(private readonly data: Uint8Array) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  private take(length: number, what: string): Uint8Array {
    if (length > this.remaining) throw decodeError(`truncated ${what}`);
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  private uint(bytes: 1 | 2 | 4, what: string): number {
    const raw = this.take(bytes, what);
    let value = 0;
    for (const b of raw) value = value * 256 + b;
    return value;
  }

  u8(what: string): number {
    return this.uint(1, what);
  }

  u16(what: string): number {
    return this.uint(2, what);
  }

  u32(what: string): number {
    return this.uint(4, what);
  }

  /** uint64 as a number; DECODE_ERROR above 2^53 - 1 (no tree size or timestamp of ours gets there). */
  u64(what: string): number {
    const raw = this.take(8, what);
    const value = new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw decodeError(`${what} out of range`);
    return Number(value);
  }

  /** `opaque x[N]` (a copy). */
  fixed(length: number, what: string): Uint8Array {
    return this.take(length, what).slice();
  }

  /** `opaque x<0..2^(8·lengthBytes)-1>`, at most `max` bytes (a copy). */
  vector(lengthBytes: 1 | 2 | 4, what: string, max = Infinity): Uint8Array {
    const length = this.uint(lengthBytes, `${what} length`);
    if (length > max) throw decodeError(`${what} longer than ${max} bytes`);
    return this.fixed(length, what);
  }

  /** A vector of items, each read by `read` from the vector's bytes, which it must consume exactly. */
  list<T>(lengthBytes: 1 | 2 | 4, what: string, read: (r: TlsReader) => T): T[] {
    const inner = new TlsReader(this.vector(lengthBytes, what));
    const out: T[] = [];
    while (inner.remaining > 0) out.push(read(inner));
    return out;
  }

  /** `optional<T>`: a presence byte, then T when it is 1. */
  optional<T>(what: string, read: (r: TlsReader) => T): T | undefined {
    const present = this.u8(`${what} presence`);
    if (present > 1) throw decodeError(`invalid ${what} presence`);
    return present === 1 ? read(this) : undefined;
  }

  /** Fails unless every byte was consumed. */
  end(what: string): void {
    if (this.remaining !== 0) throw decodeError(`trailing bytes after ${what}`);
  }
}
