import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../../src/errors.js';
import { BinaryReader, BinaryWriter } from '../../src/wire/binary.js';
import { codeOf } from '../helpers.js';


type Field =
  | { kind: 'u8'; value: number }
  | { kind: 'varint'; value: number }
  | { kind: 'u64'; value: bigint }
  | { kind: 'fixed'; value: Uint8Array }
  | { kind: 'bytes'; value: Uint8Array }
  | { kind: 'bool'; value: boolean };

const fieldArb: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).map((value) => ({ kind: 'u8' as const, value })),
  fc
    .oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0xffffffff }), fc.constant(0xffffffff))
    .map((value) => ({ kind: 'varint' as const, value })),
  fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).map((value) => ({ kind: 'u64' as const, value })),
  fc.uint8Array({ maxLength: 40 }).map((value) => ({ kind: 'fixed' as const, value })),
  fc.uint8Array({ maxLength: 200 }).map((value) => ({ kind: 'bytes' as const, value })),
  fc.boolean().map((value) => ({ kind: 'bool' as const, value })),
);

function write(fields: readonly Field[], initialCapacity?: number): Uint8Array {
  const writer = new BinaryWriter(initialCapacity);
  for (const field of fields) {
    switch (field.kind) {
      case 'u8':
        writer.u8(field.value);
        break;
      case 'varint':
        writer.varint(field.value);
        break;
      case 'u64':
        writer.u64(field.value);
        break;
      case 'fixed':
        writer.fixed(field.value);
        break;
      case 'bytes':
        writer.bytes(field.value);
        break;
      case 'bool':
        writer.bool(field.value);
        break;
    }
  }
  return writer.finish();
}

/** Reads `fields`' shapes back from `data`, returning the values in the same form. */
function read(fields: readonly Field[], data: Uint8Array): Field[] {
  const reader = new BinaryReader(data);
  const out = fields.map((field): Field => {
    switch (field.kind) {
      case 'u8':
        return { kind: 'u8', value: reader.u8() };
      case 'varint':
        return { kind: 'varint', value: reader.varint() };
      case 'u64':
        return { kind: 'u64', value: reader.u64() };
      case 'fixed':
        return { kind: 'fixed', value: reader.fixed(field.value.length, 'fixed') };
      case 'bytes':
        return { kind: 'bytes', value: reader.bytes(1000, 'bytes') };
      case 'bool':
        return { kind: 'bool', value: reader.bool() };
    }
  });
  reader.end();
  return out;
}

const encodeVarint = (value: number): string => toHex(new BinaryWriter().varint(value).finish());
const decodeVarint = (hex: string, max?: number): number => {
  const reader = new BinaryReader(fromHex(hex));
  const value = reader.varint('value', max);
  reader.end();
  return value;
};

describe('BinaryWriter / BinaryReader', () => {
  describe('round trips', () => {
    it('reads back every sequence of fields it wrote', () => {
      fc.assert(
        fc.property(fc.array(fieldArb, { maxLength: 20 }), (fields) => {
          expect(read(fields, write(fields))).toEqual(fields);
        }),
      );
    });

    it('grows past its initial capacity without losing bytes', () => {
      fc.assert(
        fc.property(fc.array(fieldArb, { maxLength: 20 }), fc.integer({ min: 1, max: 8 }), (fields, capacity) => {
          expect(write(fields, capacity)).toEqual(write(fields));
        }),
      );
    });

    it('round-trips every varint boundary', () => {
      for (const value of [0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455, 268435456, 0xffffffff]) {
        expect(decodeVarint(encodeVarint(value))).toBe(value);
      }
    });
  });

  describe('encoding', () => {
    it('writes varints as unsigned LEB128, low group first', () => {
      expect(encodeVarint(0)).toBe('00');
      expect(encodeVarint(127)).toBe('7f');
      expect(encodeVarint(128)).toBe('8001');
      expect(encodeVarint(300)).toBe('ac02');
      expect(encodeVarint(16384)).toBe('808001');
      expect(encodeVarint(0xffffffff)).toBe('ffffffff0f');
    });

    it('writes u64 as 8 big-endian bytes', () => {
      expect(toHex(new BinaryWriter().u64(0x0102030405060708n).finish())).toBe('0102030405060708');
      expect(toHex(new BinaryWriter().u64(0n).finish())).toBe('0000000000000000');
    });

    it('writes length-prefixed bytes as a varint length then the bytes', () => {
      expect(toHex(new BinaryWriter().bytes(fromHex('aabbcc')).finish())).toBe('03aabbcc');
      expect(toHex(new BinaryWriter().bytes(new Uint8Array(0)).finish())).toBe('00');
      const long = new BinaryWriter().bytes(new Uint8Array(200)).finish();
      expect(toHex(long.subarray(0, 2))).toBe('c801');
      expect(long.length).toBe(202);
    });

    it('writes booleans as one byte, 0 or 1', () => {
      expect(toHex(new BinaryWriter().bool(false).bool(true).finish())).toBe('0001');
    });

    it('refuses to write values outside their field', () => {
      expect(() => new BinaryWriter().u8(256)).toThrow(RangeError);
      expect(() => new BinaryWriter().u8(-1)).toThrow(RangeError);
      expect(() => new BinaryWriter().varint(0x100000000)).toThrow(RangeError);
      expect(() => new BinaryWriter().varint(1.5)).toThrow(RangeError);
      expect(() => new BinaryWriter().u64(-1n)).toThrow(RangeError);
      expect(() => new BinaryWriter().u64(0x10000000000000000n)).toThrow(RangeError);
    });
  });

  describe('strict decoding', () => {
    it('rejects a read past the end of every field type', () => {
      expect(codeOf(() => new BinaryReader(new Uint8Array(0)).u8())).toBe(ProtocolErrorCode.Decode);
      expect(codeOf(() => new BinaryReader(new Uint8Array(0)).bool())).toBe(ProtocolErrorCode.Decode);
      expect(codeOf(() => new BinaryReader(new Uint8Array(0)).varint())).toBe(ProtocolErrorCode.Decode);
      expect(codeOf(() => new BinaryReader(fromHex('80')).varint())).toBe(ProtocolErrorCode.Decode);
      expect(codeOf(() => new BinaryReader(new Uint8Array(7)).u64())).toBe(ProtocolErrorCode.Decode);
      expect(codeOf(() => new BinaryReader(new Uint8Array(3)).fixed(4, 'key'))).toBe(ProtocolErrorCode.Decode);
      expect(codeOf(() => new BinaryReader(fromHex('03aabb')).bytes(10, 'field'))).toBe(ProtocolErrorCode.Decode);
    });

    it('rejects every truncation of a valid encoding', () => {
      fc.assert(
        fc.property(fc.array(fieldArb, { minLength: 1, maxLength: 10 }), fc.nat(), (fields, cut) => {
          const data = write(fields);
          fc.pre(data.length > 0);
          const prefix = data.subarray(0, cut % data.length);
          expect(codeOf(() => read(fields, prefix))).toBe(ProtocolErrorCode.Decode);
        }),
      );
    });

    it('rejects a non-minimal varint', () => {
      for (const hex of ['8000', 'ff00', '808000', '80808000', '8080808000', 'ff80808000']) {
        expect(codeOf(() => decodeVarint(hex))).toBe(ProtocolErrorCode.Decode);
      }
    });

    it('rejects a varint longer than 5 bytes', () => {
      for (const hex of ['808080808001', '8080808080', 'ffffffffff01', 'ffffffffffffffffff7f']) {
        expect(codeOf(() => decodeVarint(hex))).toBe(ProtocolErrorCode.Decode);
      }
    });

    it('rejects a 5-byte varint at or above 2^32', () => {
      expect(decodeVarint('ffffffff0f')).toBe(0xffffffff);
      expect(codeOf(() => decodeVarint('8080808010'))).toBe(ProtocolErrorCode.Decode);
      expect(codeOf(() => decodeVarint('ffffffff7f'))).toBe(ProtocolErrorCode.Decode);
    });

    it('rejects a varint above the caller-given maximum', () => {
      expect(decodeVarint('ac02', 300)).toBe(300);
      expect(codeOf(() => decodeVarint('ad02', 300))).toBe(ProtocolErrorCode.Decode);
    });

    it('rejects a length prefix above the field maximum even when the bytes are present', () => {
      const data = new BinaryWriter().bytes(new Uint8Array(33)).finish();
      expect(new BinaryReader(data).bytes(33, 'key')).toHaveLength(33);
      expect(codeOf(() => new BinaryReader(data).bytes(32, 'key'))).toBe(ProtocolErrorCode.Decode);
    });

    it('rejects a length prefix larger than the remaining input', () => {
      expect(codeOf(() => new BinaryReader(fromHex('ffffffff0f00')).bytes(0xffffffff, 'blob'))).toBe(
        ProtocolErrorCode.Decode,
      );
    });

    it('rejects trailing bytes', () => {
      fc.assert(
        fc.property(
          fc.array(fieldArb, { maxLength: 10 }),
          fc.uint8Array({ minLength: 1, maxLength: 8 }),
          (fields, extra) => {
            const data = new Uint8Array([...write(fields), ...extra]);
            expect(codeOf(() => read(fields, data))).toBe(ProtocolErrorCode.Decode);
          },
        ),
      );
    });

    it('rejects a boolean other than 0 or 1', () => {
      for (const b of [2, 0x80, 0xff]) {
        expect(codeOf(() => new BinaryReader(new Uint8Array([b])).bool())).toBe(ProtocolErrorCode.Decode);
      }
    });

    it('returns copies that outlive the input buffer', () => {
      const data = new BinaryWriter().fixed(fromHex('0102')).bytes(fromHex('0304')).finish();
      const reader = new BinaryReader(data);
      const fixed = reader.fixed(2, 'fixed');
      const bytes = reader.bytes(2, 'bytes');
      data.fill(0);
      expect(toHex(fixed)).toBe('0102');
      expect(toHex(bytes)).toBe('0304');
    });

    it('reads from a view that does not start at the beginning of its buffer', () => {
      const backing = new Uint8Array([0xee, 0xee, ...new BinaryWriter().u64(42n).varint(300).finish()]);
      const reader = new BinaryReader(backing.subarray(2));
      expect(reader.u64()).toBe(42n);
      expect(reader.varint()).toBe(300);
      reader.end();
    });
  });

  describe('fuzzing', () => {
    type Op =
      | { op: 'u8' | 'varint' | 'u64' | 'bool' | 'end' }
      | { op: 'varintMax'; max: number }
      | { op: 'fixed' | 'bytes'; length: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.constantFrom('u8', 'varint', 'u64', 'bool', 'end').map((op) => ({ op })),
      fc.integer({ min: 0, max: 0xffffffff }).map((max) => ({ op: 'varintMax' as const, max })),
      fc.record({ op: fc.constantFrom('fixed' as const, 'bytes' as const), length: fc.integer({ min: 0, max: 64 }) }),
    );

    it('throws only ProtocolError DECODE_ERROR on random input, whatever is read', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(opArb, { maxLength: 12 }), (data, ops) => {
          const reader = new BinaryReader(data);
          try {
            for (const step of ops) {
              switch (step.op) {
                case 'u8':
                  reader.u8();
                  break;
                case 'varint':
                  reader.varint();
                  break;
                case 'varintMax':
                  reader.varint('value', step.max);
                  break;
                case 'u64':
                  reader.u64();
                  break;
                case 'bool':
                  reader.bool();
                  break;
                case 'end':
                  reader.end();
                  break;
                case 'fixed':
                  reader.fixed(step.length, 'fixed');
                  break;
                case 'bytes':
                  reader.bytes(step.length, 'bytes');
                  break;
              }
            }
          } catch (err) {
            expect(ProtocolError.is(err, ProtocolErrorCode.Decode)).toBe(true);
          }
        }),
        { numRuns: 2000 },
      );
    });
  });
});
