import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrameError,
  FrameType,
  MAX_ACK_IDS,
  MAX_SEND_COPIES,
  decodeClientFrame,
  decodeFrame,
  decodeServerFrame,
  encodeFrame,
} from '../../src/wire/frames.js';
import type { Frame, FrameErrorCode } from '../../src/wire/frames.js';

function codeOf(fn: () => unknown): FrameErrorCode {
  try {
    fn();
  } catch (err) {
    if (FrameError.is(err)) return err.code;
    throw err;
  }
  throw new Error('expected a FrameError');
}

const hex32 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const address = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url'));

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.string({ maxLength: 60 }).map((login) => ({ kind: 'auth' as const, login })),
  fc.array(u64, { minLength: 1, maxLength: 50 }).map((ids) => ({ kind: 'ack' as const, ids })),
  fc.constant({ kind: 'ready' as const }),
  fc.constant({ kind: 'queue-empty' as const }),
  fc.record({
    kind: fc.constant('envelope' as const),
    id: u64,
    receivedAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    source: fc.option(fc.record({ accountId: hex32, deviceId: fc.integer({ min: 1, max: 0xffffffff }) }), { nil: undefined }),
    envelope: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.constantFrom('BAD_FRAME', 'UNKNOWN_ENVELOPE_ACK', 'INTERNAL').map((code) => ({ kind: 'error' as const, code })),
  fc.record({
    kind: fc.constant('send' as const),
    requestId: fc.integer({ min: 0, max: 0xffffffff }),
    accountId: hex32,
    copies: fc.array(
      fc.record({
        deviceId: fc.integer({ min: 1, max: 0xffffffff }),
        registrationId: fc.integer({ min: 0, max: 0xffffffff }),
        envelope: fc.uint8Array({ maxLength: 200 }),
      }),
      { minLength: 1, maxLength: 5 },
    ),
  }),
  fc.record({
    kind: fc.constant('group-send' as const),
    requestId: fc.integer({ min: 0, max: 0xffffffff }),
    groupId: fc.tuple(hex32, hex32).map(([a, b]) => a + b),
    envelope: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant('group-send-ok' as const),
    requestId: fc.integer({ min: 0, max: 0xffffffff }),
    stored: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc.record({
    kind: fc.constant('send-ok' as const),
    requestId: fc.integer({ min: 0, max: 0xffffffff }),
    ids: fc.array(u64, { maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('send-error' as const),
    requestId: fc.integer({ min: 0, max: 0xffffffff }),
    code: fc.constantFrom('DEVICE_LIST_MISMATCH', 'RATE_LIMITED', 'QUEUE_FULL'),
    message: fc.string({ maxLength: 100 }),
    retryAfter: fc.integer({ min: 0, max: 0xffffffff }),
    missingDevices: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 5 }),
    extraDevices: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 5 }),
    staleDevices: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 5 }),
  }),
  address.map((a) => ({ kind: 'provisioning-address' as const, address: a })),
  fc.uint8Array({ maxLength: 300 }).map((body) => ({ kind: 'provisioning-message' as const, body })),
);

const norm = (frame: Frame) => JSON.parse(JSON.stringify(frame, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v)));

describe('websocket frames', () => {
  it('round-trips every frame type', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const bytes = encodeFrame(frame);
        expect(norm(decodeFrame(bytes))).toEqual(norm(frame));
      }),
    );
  });

  it('reports every strict prefix of a frame as TRUNCATED_FRAME', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const bytes = encodeFrame(frame);
        for (let cut = 0; cut < bytes.length; cut++) {
          expect(codeOf(() => decodeFrame(bytes.subarray(0, cut)))).toBe('TRUNCATED_FRAME');
        }
      }),
      { numRuns: 60 },
    );
  });

  it('reports bytes after a complete frame as TRAILING_BYTES', () => {
    fc.assert(
      fc.property(frameArb, fc.uint8Array({ minLength: 1, maxLength: 8 }), (frame, extra) => {
        const bytes = encodeFrame(frame);
        const padded = new Uint8Array([...bytes, ...extra]);
        expect(codeOf(() => decodeFrame(padded))).toBe('TRAILING_BYTES');
      }),
      { numRuns: 60 },
    );
  });

  it('never throws anything but FrameError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeFrame(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('lays out an ENVELOPE frame as documented', () => {
    const bytes = encodeFrame({
      kind: 'envelope',
      id: 258n,
      receivedAt: 1000,
      source: { accountId: '00112233445566778899aabbccddeeff', deviceId: 3 },
      envelope: Uint8Array.of(9, 8, 7),
    });
    expect(Buffer.from(bytes).toString('hex')).toBe(
      ['11', '0000000000000102', '00000000000003e8', '01', '00112233445566778899aabbccddeeff', '03', '03090807'].join(''),
    );
    const unsourced = encodeFrame({ kind: 'envelope', id: 1n, receivedAt: 0, source: undefined, envelope: new Uint8Array(0) });
    expect(Buffer.from(unsourced).toString('hex')).toBe('11' + '0000000000000001' + '0000000000000000' + '00' + '00');
  });

  it('lays out AUTH, ACK, READY, QUEUE_EMPTY and ERROR as documented', () => {
    expect([...encodeFrame({ kind: 'auth', login: 'ab' })]).toEqual([FrameType.Auth, 2, 0x61, 0x62]);
    expect(Buffer.from(encodeFrame({ kind: 'ack', ids: [1n, 2n] })).toString('hex')).toBe('0202' + '0000000000000001' + '0000000000000002');
    expect([...encodeFrame({ kind: 'ready' })]).toEqual([0x10]);
    expect([...encodeFrame({ kind: 'queue-empty' })]).toEqual([0x12]);
    expect([...encodeFrame({ kind: 'error', code: 'BAD_FRAME' })]).toEqual([0x1f, 9, ...Buffer.from('BAD_FRAME')]);
  });

  it('lays out SEND, SEND_OK and SEND_ERROR as documented', () => {
    const send = encodeFrame({
      kind: 'send',
      requestId: 300,
      accountId: '00112233445566778899aabbccddeeff',
      copies: [{ deviceId: 2, registrationId: 129, envelope: Uint8Array.of(7, 8) }],
    });
    expect(Buffer.from(send).toString('hex')).toBe(['03', 'ac02', '00112233445566778899aabbccddeeff', '01', '02', '8101', '020708'].join(''));
    const ok = encodeFrame({ kind: 'send-ok', requestId: 1, ids: [5n] });
    expect(Buffer.from(ok).toString('hex')).toBe('13' + '01' + '01' + '0000000000000005');
    const error = encodeFrame({
      kind: 'send-error',
      requestId: 2,
      code: 'AB',
      message: 'x',
      retryAfter: 0,
      missingDevices: [3],
      extraDevices: [],
      staleDevices: [4, 5],
    });
    expect(Buffer.from(error).toString('hex')).toBe(['14', '02', '024142', '0178', '00', '0103', '00', '020405'].join(''));
    expect(decodeClientFrame(send)).toMatchObject({ kind: 'send', requestId: 300 });
    expect(decodeServerFrame(ok)).toEqual({ kind: 'send-ok', requestId: 1, ids: [5n] });
  });

  it('lays out GROUP_SEND and GROUP_SEND_OK as documented', () => {
    const groupId = 'ab'.repeat(32);
    const send = encodeFrame({ kind: 'group-send', requestId: 300, groupId, envelope: Uint8Array.of(7, 8) });
    expect(Buffer.from(send).toString('hex')).toBe(['04', 'ac02', groupId, '020708'].join(''));
    const ok = encodeFrame({ kind: 'group-send-ok', requestId: 1, stored: 200 });
    expect(Buffer.from(ok).toString('hex')).toBe('15' + '01' + 'c801');
    expect(decodeClientFrame(send)).toEqual({ kind: 'group-send', requestId: 300, groupId, envelope: Uint8Array.of(7, 8) });
    expect(decodeServerFrame(ok)).toEqual({ kind: 'group-send-ok', requestId: 1, stored: 200 });
    expect(codeOf(() => decodeServerFrame(send))).toBe('UNKNOWN_FRAME_TYPE');
    expect(codeOf(() => decodeClientFrame(ok))).toBe('UNKNOWN_FRAME_TYPE');
    expect(codeOf(() => decodeFrame(send.subarray(0, 20)))).toBe('TRUNCATED_FRAME');
    expect(() => encodeFrame({ kind: 'group-send', requestId: 1, groupId: 'AB'.repeat(32), envelope: send })).toThrow(FrameError);
    expect(() => encodeFrame({ kind: 'group-send', requestId: 1, groupId: 'ab'.repeat(16), envelope: send })).toThrow(FrameError);
    expect(() => encodeFrame({ kind: 'group-send-ok', requestId: 1, stored: -1 })).toThrow(FrameError);
  });

  it('rejects unknown frame types and frames of the other direction', () => {
    expect(codeOf(() => decodeFrame(Uint8Array.of(0x7f)))).toBe('UNKNOWN_FRAME_TYPE');
    expect(codeOf(() => decodeClientFrame(encodeFrame({ kind: 'ready' })))).toBe('UNKNOWN_FRAME_TYPE');
    expect(codeOf(() => decodeServerFrame(encodeFrame({ kind: 'ack', ids: [1n] })))).toBe('UNKNOWN_FRAME_TYPE');
    expect(decodeClientFrame(encodeFrame({ kind: 'ack', ids: [5n] }))).toEqual({ kind: 'ack', ids: [5n] });
    expect(codeOf(() => decodeClientFrame(encodeFrame({ kind: 'send-ok', requestId: 1, ids: [] })))).toBe('UNKNOWN_FRAME_TYPE');
    const send = encodeFrame({ kind: 'send', requestId: 1, accountId: '0'.repeat(32), copies: [{ deviceId: 1, registrationId: 1, envelope: new Uint8Array(1) }] });
    expect(codeOf(() => decodeServerFrame(send))).toBe('UNKNOWN_FRAME_TYPE');
  });

  it('rejects invalid fields', () => {
    // ACK with zero ids, or more than MAX_ACK_IDS.
    expect(codeOf(() => decodeFrame(Uint8Array.of(FrameType.Ack, 0)))).toBe('INVALID_FRAME');
    expect(codeOf(() => decodeFrame(encodeAckCount(MAX_ACK_IDS + 1)))).toBe('INVALID_FRAME');
    // A non-minimal varint.
    expect(codeOf(() => decodeFrame(Uint8Array.of(FrameType.Ack, 0x81, 0x00)))).toBe('INVALID_FRAME');
    // A source flag that is neither 0 nor 1.
    expect(codeOf(() => decodeFrame(Uint8Array.of(FrameType.Envelope, ...new Uint8Array(16), 2, 0)))).toBe('INVALID_FRAME');
    // Invalid UTF-8 in a login, and an error code that is not UPPER_SNAKE_CASE.
    expect(codeOf(() => decodeFrame(Uint8Array.of(FrameType.Auth, 1, 0xff)))).toBe('INVALID_FRAME');
    expect(codeOf(() => decodeFrame(Uint8Array.of(FrameType.Error, 1, 0x61)))).toBe('INVALID_FRAME');
    // A length prefix beyond the field's bound.
    expect(codeOf(() => decodeFrame(Uint8Array.of(FrameType.Auth, 0x80, 0x04)))).toBe('INVALID_FRAME');
    expect(() => encodeFrame({ kind: 'ack', ids: [] })).toThrow(FrameError);
    expect(() => encodeFrame({ kind: 'ack', ids: [-1n] })).toThrow(FrameError);
    expect(() => encodeFrame({ kind: 'error', code: 'not a code' })).toThrow(FrameError);
    // SEND with more than MAX_SEND_COPIES copies, or device id 0 (none is allowed: a sync copy that checks our list).
    const head = [FrameType.Send, 1, ...new Uint8Array(16)];
    expect(decodeFrame(Uint8Array.of(...head, 0))).toEqual({ kind: 'send', requestId: 1, accountId: '0'.repeat(32), copies: [] });
    expect(codeOf(() => decodeFrame(Uint8Array.of(...head, MAX_SEND_COPIES + 1)))).toBe('INVALID_FRAME');
    expect(codeOf(() => decodeFrame(Uint8Array.of(...head, 1, 0, 1, 0)))).toBe('INVALID_FRAME');
    const copy = { deviceId: 1, registrationId: 1, envelope: new Uint8Array(0) };
    expect(() => encodeFrame({ kind: 'send', requestId: 1, accountId: 'ABC', copies: [copy] })).toThrow(FrameError);
    expect(() => encodeFrame({ kind: 'send', requestId: -1, accountId: '0'.repeat(32), copies: [copy] })).toThrow(FrameError);
    expect([...encodeFrame({ kind: 'send', requestId: 1, accountId: '0'.repeat(32), copies: [] })]).toEqual([...head, 0]);
  });
});

function encodeAckCount(count: number): Uint8Array {
  const out: number[] = [FrameType.Ack];
  let v = count;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Uint8Array.from(out);
}
