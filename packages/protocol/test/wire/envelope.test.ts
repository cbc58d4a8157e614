import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../../src/errors.js';
import { BinaryWriter } from '../../src/wire/binary.js';
import {
  ENVELOPE_VERSION,
  EnvelopeType,
  MAX_ENVELOPE_CONTENT,
  MAX_GROUP_ENVELOPE_CONTENT,
  MAX_MESSAGE_PLAINTEXT,
  decodeEnvelope,
  encodeEnvelope,
} from '../../src/wire/envelope.js';
import type { Envelope } from '../../src/wire/envelope.js';
import { paddedLength } from '../../src/wire/padding.js';
import { codeOf } from '../helpers.js';


const envelopeArb: fc.Arbitrary<Envelope> = fc.record({
  type: fc.constantFrom(...Object.values(EnvelopeType)),
  timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.maxSafeNat()),
  content: fc.uint8Array({ maxLength: 1000 }),
});

/** An envelope written by hand, field by field, to test the decoder on layouts the encoder refuses to produce. */
function rawEnvelope(version: number, type: number, timestamp: bigint, content: Uint8Array): Uint8Array {
  return new BinaryWriter().u8(version).u8(type).u64(timestamp).bytes(content).finish();
}

describe('envelope', () => {
  it('round-trips every envelope', () => {
    fc.assert(
      fc.property(envelopeArb, (envelope) => {
        expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
      }),
    );
  });

  it('lays out version, type, big-endian timestamp, then length-prefixed content', () => {
    const encoded = encodeEnvelope({
      type: EnvelopeType.Message,
      timestamp: 1_700_000_000_123,
      content: fromHex('c0ffee'),
    });
    expect(toHex(encoded)).toBe('0102' + '0000018bcfe5687b' + '03' + 'c0ffee');
  });

  it('numbers the envelope types as documented', () => {
    expect(ENVELOPE_VERSION).toBe(1);
    expect(EnvelopeType).toEqual({ PreKeyMessage: 1, Message: 2, SealedSender: 3, GroupMessage: 4, GroupWelcome: 5 });
  });

  it('gives group envelopes (MLS commits and Welcomes) the larger group limit, and 1:1 ones the smaller', () => {
    const group = new Uint8Array(MAX_GROUP_ENVELOPE_CONTENT).fill(3);
    for (const type of [EnvelopeType.GroupMessage, EnvelopeType.GroupWelcome]) {
      expect(decodeEnvelope(encodeEnvelope({ type, timestamp: 1, content: group })).content.length).toBe(MAX_GROUP_ENVELOPE_CONTENT);
      expect(codeOf(() => encodeEnvelope({ type, timestamp: 1, content: new Uint8Array(MAX_GROUP_ENVELOPE_CONTENT + 1) }))).toBe(ProtocolErrorCode.InvalidArgument);
    }
    expect(codeOf(() => encodeEnvelope({ type: EnvelopeType.Message, timestamp: 1, content: group }))).toBe(ProtocolErrorCode.InvalidArgument);
    const oversized = rawEnvelope(ENVELOPE_VERSION, EnvelopeType.Message, 1n, new Uint8Array(MAX_ENVELOPE_CONTENT + 1));
    expect(codeOf(() => decodeEnvelope(oversized))).toBe(ProtocolErrorCode.Decode);
  });

  it('accepts content of exactly MAX_ENVELOPE_CONTENT bytes', () => {
    const content = new Uint8Array(MAX_ENVELOPE_CONTENT).fill(7);
    const decoded = decodeEnvelope(encodeEnvelope({ type: EnvelopeType.PreKeyMessage, timestamp: 1, content }));
    expect(Buffer.from(decoded.content).equals(Buffer.from(content))).toBe(true);
  });

  it('leaves room for a padded maximum-size message and its prekey and ratchet headers', () => {
    expect(paddedLength(MAX_MESSAGE_PLAINTEXT) + 4096).toBeLessThanOrEqual(MAX_ENVELOPE_CONTENT);
  });

  it('returns content that does not alias the input', () => {
    const encoded = encodeEnvelope({ type: EnvelopeType.Message, timestamp: 5, content: fromHex('0102') });
    const decoded = decodeEnvelope(encoded);
    encoded.fill(0);
    expect(toHex(decoded.content)).toBe('0102');
  });

  describe('decoding', () => {
    it('rejects an envelope with an unknown version', () => {
      for (const version of [0, 2, 0x7f, 0xff]) {
        const bytes = rawEnvelope(version, EnvelopeType.Message, 1n, fromHex('00'));
        expect(codeOf(() => decodeEnvelope(bytes))).toBe(ProtocolErrorCode.UnknownVersion);
      }
    });

    it('reports an unknown version before looking at the rest, whatever follows', () => {
      expect(codeOf(() => decodeEnvelope(fromHex('02')))).toBe(ProtocolErrorCode.UnknownVersion);
      expect(codeOf(() => decodeEnvelope(fromHex('09ffffffffffffffffffffffff')))).toBe(
        ProtocolErrorCode.UnknownVersion,
      );
    });

    it('rejects an empty input', () => {
      expect(codeOf(() => decodeEnvelope(new Uint8Array(0)))).toBe(ProtocolErrorCode.Decode);
    });

    it('rejects an envelope with an unknown type', () => {
      for (const type of [0, 6, 0x80, 0xff]) {
        const bytes = rawEnvelope(ENVELOPE_VERSION, type, 1n, fromHex('00'));
        expect(codeOf(() => decodeEnvelope(bytes))).toBe(ProtocolErrorCode.Decode);
      }
    });

    it('rejects every truncated envelope', () => {
      fc.assert(
        fc.property(envelopeArb, fc.nat(), (envelope, cut) => {
          const encoded = encodeEnvelope(envelope);
          const prefix = encoded.subarray(0, cut % encoded.length);
          expect(codeOf(() => decodeEnvelope(prefix))).toBe(ProtocolErrorCode.Decode);
        }),
      );
    });

    it('rejects trailing bytes after the content', () => {
      fc.assert(
        fc.property(envelopeArb, fc.uint8Array({ minLength: 1, maxLength: 16 }), (envelope, extra) => {
          const bytes = new Uint8Array([...encodeEnvelope(envelope), ...extra]);
          expect(codeOf(() => decodeEnvelope(bytes))).toBe(ProtocolErrorCode.Decode);
        }),
      );
    });

    it('rejects a content length above MAX_ENVELOPE_CONTENT, with or without the bytes', () => {
      const tooLong = new Uint8Array(MAX_ENVELOPE_CONTENT + 1);
      const oversized = rawEnvelope(ENVELOPE_VERSION, EnvelopeType.Message, 1n, tooLong);
      expect(codeOf(() => decodeEnvelope(oversized))).toBe(ProtocolErrorCode.Decode);
      const header = rawEnvelope(ENVELOPE_VERSION, EnvelopeType.Message, 1n, new Uint8Array(0)).subarray(0, 10);
      const lengthOnly = new Uint8Array([...header, ...new BinaryWriter().varint(0xffffffff).finish()]);
      expect(codeOf(() => decodeEnvelope(lengthOnly))).toBe(ProtocolErrorCode.Decode);
    });

    it('rejects a content length written as a non-minimal varint', () => {
      const header = rawEnvelope(ENVELOPE_VERSION, EnvelopeType.Message, 1n, new Uint8Array(0)).subarray(0, 10);
      const bytes = new Uint8Array([...header, 0x81, 0x00, 0xaa]);
      expect(codeOf(() => decodeEnvelope(bytes))).toBe(ProtocolErrorCode.Decode);
    });

    it('rejects a timestamp beyond Number.MAX_SAFE_INTEGER', () => {
      const max = rawEnvelope(ENVELOPE_VERSION, EnvelopeType.Message, BigInt(Number.MAX_SAFE_INTEGER), fromHex('01'));
      expect(decodeEnvelope(max).timestamp).toBe(Number.MAX_SAFE_INTEGER);
      for (const timestamp of [BigInt(Number.MAX_SAFE_INTEGER) + 1n, 0xffffffffffffffffn]) {
        const bytes = rawEnvelope(ENVELOPE_VERSION, EnvelopeType.Message, timestamp, fromHex('01'));
        expect(codeOf(() => decodeEnvelope(bytes))).toBe(ProtocolErrorCode.Decode);
      }
    });

    it('throws only ProtocolError on random input', () => {
      const accepted = new Set<string>([ProtocolErrorCode.Decode, ProtocolErrorCode.UnknownVersion]);
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            // Mostly well-formed prefixes, so the fuzzer reaches the type, timestamp and length fields.
            fc
              .tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 48 }))
              .map(([type, rest]) => new Uint8Array([ENVELOPE_VERSION, type, ...rest])),
          ),
          (bytes) => {
            try {
              const envelope = decodeEnvelope(bytes);
              expect(encodeEnvelope(envelope)).toEqual(bytes);
            } catch (err) {
              expect(ProtocolError.is(err) && accepted.has(err.code)).toBe(true);
            }
          },
        ),
        { numRuns: 3000 },
      );
    });
  });

  describe('encoding', () => {
    it('refuses an unknown type', () => {
      for (const type of [0, 6, 255]) {
        const envelope = { type, timestamp: 1, content: new Uint8Array(1) } as unknown as Envelope;
        expect(codeOf(() => encodeEnvelope(envelope))).toBe(ProtocolErrorCode.InvalidArgument);
      }
    });

    it('refuses a timestamp that is not a non-negative safe integer', () => {
      for (const timestamp of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Number.POSITIVE_INFINITY]) {
        const envelope = { type: EnvelopeType.Message, timestamp, content: new Uint8Array(1) };
        expect(codeOf(() => encodeEnvelope(envelope))).toBe(ProtocolErrorCode.InvalidArgument);
      }
    });

    it('refuses content longer than MAX_ENVELOPE_CONTENT', () => {
      const envelope = { type: EnvelopeType.Message, timestamp: 1, content: new Uint8Array(MAX_ENVELOPE_CONTENT + 1) };
      expect(codeOf(() => encodeEnvelope(envelope))).toBe(ProtocolErrorCode.InvalidArgument);
    });
  });
});
