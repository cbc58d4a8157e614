/**
 * The binary encoding behind every Samizdat wire message and stored state (documented in docs/wire-format.md):
 * unsigned LEB128 varints (at most 5 bytes, values < 2^32), fixed-length byte fields, and length-prefixed byte
 * fields whose length is bounded by the caller. Decoding is strict: truncation, an oversized length, a non-minimal
 * or too-long varint, and trailing bytes all throw ProtocolError DECODE_ERROR — never a RangeError or a crash.
 */
import { ProtocolError, ProtocolErrorCode } from '../errors.js';

const MAX_VARINT_BYTES = 5;

function decodeError(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.Decode, message);
}

export class BinaryWriter {
  private buffer: Uint8Array;
  private offset = 0;

  constructor(initialCapacity = 256) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  private ensure(extra: number): void {
    if (this.offset + extra <= this.buffer.length) return;
    let size = Math.max(this.buffer.length * 2, 16);
    while (size < this.offset + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.offset));
    this.buffer = next;
  }

  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError('u8 out of range');
    this.ensure(1);
    this.buffer[this.offset++] = value;
    return this;
  }

  varint(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError('varint out of range');
    this.ensure(MAX_VARINT_BYTES);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.offset++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buffer[this.offset++] = v;
    return this;
  }

  /** A 64-bit unsigned integer as 8 big-endian bytes (timestamps). */
  u64(value: bigint): this {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError('u64 out of range');
    this.ensure(8);
    new DataView(this.buffer.buffer, this.buffer.byteOffset).setBigUint64(this.offset, value);
    this.offset += 8;
    return this;
  }

  /** Bytes whose length the reader knows in advance. */
  fixed(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  /** varint length, then the bytes. */
  bytes(bytes: Uint8Array): this {
    this.varint(bytes.length);
    return this.fixed(bytes);
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.offset);
  }
}

export class BinaryReader {
  private offset = 0;

  constructor(private readonly data: Uint8Array) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  private take(length: number, what: string): Uint8Array {
    if (!Number.isInteger(length) || length < 0) throw new RangeError('length must be a non-negative integer');
    if (length > this.remaining) throw decodeError(`truncated ${what}`);
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(what = 'byte'): number {
    if (this.remaining < 1) throw decodeError(`truncated ${what}`);
    return this.data[this.offset++] as number;
  }

  varint(what = 'integer', max = 0xffffffff): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = this.u8(what);
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw decodeError(`non-minimal ${what}`);
        if (result > max) throw decodeError(`${what} out of range`);
        return result;
      }
      scale *= 128;
    }
    throw decodeError(`${what} too long`);
  }

  u64(what = 'u64'): bigint {
    const bytes = this.take(8, what);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  }

  /** Exactly `length` bytes (a copy, so the result outlives the input buffer). */
  fixed(length: number, what: string): Uint8Array {
    return this.take(length, what).slice();
  }

  /** A varint-length-prefixed field of at most `maxLength` bytes (a copy). */
  bytes(maxLength: number, what: string): Uint8Array {
    const length = this.varint(`${what} length`);
    if (length > maxLength) throw decodeError(`${what} longer than ${maxLength} bytes`);
    return this.fixed(length, what);
  }

  bool(what = 'flag'): boolean {
    const b = this.u8(what);
    if (b > 1) throw decodeError(`invalid ${what}`);
    return b === 1;
  }

  /** Fails unless every byte was consumed. */
  end(what = 'message'): void {
    if (this.remaining !== 0) throw decodeError(`trailing bytes after ${what}`);
  }
}
