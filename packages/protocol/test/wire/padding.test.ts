import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, ProtocolErrorCode } from '../../src/errors.js';
import { MIN_PADDED_LENGTH, PADDING_MARKER, pad, paddedLength, unpad } from '../../src/wire/padding.js';
import { codeOf } from '../helpers.js';


/**
 * Padmé as printed in the PURBs paper (PoPETs 2019(4), §4, Algorithm 1), with 32-bit bit operations: an independent
 * second implementation for lengths below 2^31.
 */
function padmeFromPaper(length: number): number {
  const e = 31 - Math.clz32(length);
  const s = 31 - Math.clz32(e) + 1;
  const lastBits = e - s;
  const bitMask = (1 << lastBits) - 1;
  return (length + bitMask) & ~bitMask;
}

describe('padding', () => {
  it('round-trips any plaintext, including ones that end in 0x80 or zeros', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2000 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([...b, 0x80, 0, 0])),
          fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([...b, 0x80])),
        ),
        (plaintext) => {
          expect(unpad(pad(plaintext))).toEqual(plaintext);
        },
      ),
    );
  });

  it('pads every message shorter than 160 bytes to exactly 160 bytes', () => {
    for (let n = 0; n < MIN_PADDED_LENGTH; n++) {
      expect(pad(new Uint8Array(n).fill(0xab))).toHaveLength(MIN_PADDED_LENGTH);
    }
  });

  it('writes the plaintext, one 0x80 marker, then only zeros', () => {
    const plaintext = new Uint8Array([1, 2, 3]);
    const padded = pad(plaintext);
    expect(Array.from(padded.subarray(0, 4))).toEqual([1, 2, 3, PADDING_MARKER]);
    expect(padded.subarray(4).every((b) => b === 0)).toBe(true);
  });

  it('does not modify its input', () => {
    const plaintext = new Uint8Array([5, 6, 7]);
    pad(plaintext);
    unpad(pad(plaintext));
    expect(Array.from(plaintext)).toEqual([5, 6, 7]);
  });

  it('chooses the Padmé bucket of plaintext plus marker above the minimum', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_PADDED_LENGTH, max: 2 ** 30 }), (n) => {
        expect(paddedLength(n)).toBe(padmeFromPaper(n + 1));
      }),
    );
    expect(paddedLength(159)).toBe(160);
    expect(paddedLength(160)).toBe(176);
    expect(paddedLength(200)).toBe(208);
    expect(paddedLength(255)).toBe(256);
    expect(paddedLength(256)).toBe(272);
    expect(paddedLength(256 * 1024 - 1)).toBe(256 * 1024);
    expect(paddedLength(256 * 1024)).toBe(264 * 1024);
    expect(pad(new Uint8Array(1000))).toHaveLength(paddedLength(1000));
  });

  it('keeps the overhead within the documented bounds', () => {
    // Worst case per range, over every length up to 1 MiB (one expect per range keeps this fast).
    let notLonger = 0;
    let below256 = 0;
    let below64k = 0;
    let above64k = 0;
    for (let n = MIN_PADDED_LENGTH; n <= 1 << 20; n++) {
      const p = paddedLength(n);
      if (p <= n) notLonger++;
      if (n < 256) below256 = Math.max(below256, p - n);
      else if (n < 65536) below64k = Math.max(below64k, p / n);
      else above64k = Math.max(above64k, p / n);
    }
    expect(notLonger).toBe(0);
    expect(below256).toBe(16);
    expect(below64k).toBeLessThanOrEqual(1 + 1 / 16);
    expect(above64k).toBeLessThanOrEqual(1 + 1 / 32);
  });

  it('leaks only O(log log n) bits: at most 2^(⌊log2 E⌋+1) lengths per power of two 2^E', () => {
    for (let e = 8; e <= 18; e++) {
      const lengths = new Set<number>();
      for (let n = 2 ** e; n < 2 ** (e + 1); n++) lengths.add(paddedLength(n));
      expect(lengths.size).toBeLessThanOrEqual(2 ** (Math.floor(Math.log2(e)) + 1) + 1);
    }
  });

  it('accepts padding longer than the bucket a sender would choose', () => {
    const padded = new Uint8Array(4096);
    padded.set([9, 9, PADDING_MARKER]);
    expect(Array.from(unpad(padded))).toEqual([9, 9]);
    expect(unpad(new Uint8Array([PADDING_MARKER]))).toHaveLength(0);
  });

  it('rejects an empty input', () => {
    expect(codeOf(() => unpad(new Uint8Array(0)))).toBe(ProtocolErrorCode.Decode);
  });

  it('rejects an input without a marker', () => {
    expect(codeOf(() => unpad(new Uint8Array(160)))).toBe(ProtocolErrorCode.Decode);
  });

  it('rejects a non-zero byte after the marker', () => {
    const padded = pad(new Uint8Array([1, 2, 3]));
    padded[padded.length - 1] = 1;
    expect(codeOf(() => unpad(padded))).toBe(ProtocolErrorCode.Decode);
    expect(codeOf(() => unpad(new Uint8Array([PADDING_MARKER, 0, 0x7f, 0])))).toBe(ProtocolErrorCode.Decode);
  });

  it('rejects a last non-zero byte other than the marker', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 1, max: 0xff }).filter((b) => b !== PADDING_MARKER),
        fc.nat({ max: 200 }),
        (prefix, last, zeros) => {
          const padded = new Uint8Array([...prefix, last, ...new Uint8Array(zeros)]);
          expect(codeOf(() => unpad(padded))).toBe(ProtocolErrorCode.Decode);
        },
      ),
    );
  });

  it('throws only ProtocolError DECODE_ERROR on random input, and otherwise returns a prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        try {
          const plaintext = unpad(data);
          expect(data.subarray(0, plaintext.length)).toEqual(plaintext);
          expect(data[plaintext.length]).toBe(PADDING_MARKER);
        } catch (err) {
          expect(ProtocolError.is(err, ProtocolErrorCode.Decode)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a plaintext length that is not a non-negative integer', () => {
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER]) {
      expect(codeOf(() => paddedLength(n))).toBe(ProtocolErrorCode.InvalidArgument);
    }
  });
});
