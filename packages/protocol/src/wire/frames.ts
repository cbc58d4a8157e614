/**
 * The binary frames of the WebSocket endpoints (docs/api.md "WebSocket"). Every frame is one binary WebSocket
 * message: a type byte, then the fields of that type in the encoding of @samizdat/protocol's BinaryWriter (unsigned
 * LEB128 varints < 2^32, u64 big-endian, length-prefixed byte fields).
 *
 *   client → server (/v1/websocket)
 *     0x01 AUTH           bytes login        utf8 "<accountId>.<deviceId>:<secret>", only when no Authorization header
 *     0x02 ACK            varint n (1–1000), n × u64 envelope id
 *     0x03 SEND           varint requestId, 16 bytes recipient account id, varint n (1–64),
 *                         n × (varint deviceId (≥ 1), varint registrationId, bytes envelope)
 *                         the same send as PUT /v1/messages/:accountId, over the open socket; answered by SEND_OK or
 *                         SEND_ERROR carrying the same requestId (answers may come in another order than the SENDs)
 *     0x04 GROUP_SEND     varint requestId, 32 bytes group id, bytes envelope (a GroupMessage envelope)
 *                         the same send as PUT /v1/groups/:groupId/messages; answered by GROUP_SEND_OK or SEND_ERROR
 *   server → client (/v1/websocket)
 *     0x10 READY          (empty)            authenticated; delivery starts
 *     0x11 ENVELOPE       u64 id, u64 receivedAt, u8 hasSource (0|1),
 *                         [16 bytes source account id, varint source device id] when hasSource = 1,
 *                         bytes envelope     the encoded envelope (@samizdat/protocol encodeEnvelope), opaque here
 *     0x12 QUEUE_EMPTY    (empty)            everything queued when the socket opened has been sent
 *     0x13 SEND_OK        varint requestId, varint n, n × u64 id    every copy is durably stored; ids in SEND order
 *     0x14 SEND_ERROR     varint requestId, bytes code, bytes message (utf8), varint retryAfter (seconds, 0 = none),
 *                         3 × (varint n, n × varint deviceId): missing, extra, stale devices (DEVICE_LIST_MISMATCH)
 *     0x15 GROUP_SEND_OK  varint requestId, varint stored   the envelope is durably stored for `stored` member devices
 *     0x1F ERROR          bytes code         utf8 stable code, e.g. BAD_FRAME, UNKNOWN_ENVELOPE_ACK
 *   server → client (/v1/provisioning/websocket)
 *     0x20 PROVISIONING_ADDRESS  bytes address   utf8, 43 base64url characters (32 random bytes)
 *     0x21 PROVISIONING_MESSAGE  bytes body      the end-to-end encrypted provisioning message, opaque here
 *
 * `bytes` = varint length, then that many bytes. Decoding is strict: an unknown type byte, a truncated field,
 * trailing bytes, an over-long field, invalid UTF-8 or an out-of-range value is a FrameError with a stable code,
 * never a crash. No Node-only APIs: the client SDK (Node and browsers) and the tests use the same functions.
 */
import { ACCOUNT_ID_PATTERN, GROUP_ID_PATTERN } from '../api/ids.js';
import { fromHex, toHex } from '../crypto/bytes.js';
import { ProtocolError } from '../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';

export const FrameType = {
  Auth: 0x01,
  Ack: 0x02,
  Send: 0x03,
  GroupSend: 0x04,
  Ready: 0x10,
  Envelope: 0x11,
  QueueEmpty: 0x12,
  SendOk: 0x13,
  SendError: 0x14,
  GroupSendOk: 0x15,
  Error: 0x1f,
  ProvisioningAddress: 0x20,
  ProvisioningMessage: 0x21,
} as const;

/** Most envelope ids one ACK frame may carry (the HTTP ack route takes as many). */
export const MAX_ACK_IDS = 1000;
/** Longest login an AUTH frame may carry (a valid one is at most 32 + 1 + 4 + 1 + 128 bytes). */
export const MAX_LOGIN_BYTES = 256;
/** Largest envelope an ENVELOPE frame may carry: above the largest group envelope (1 MiB of MLS content), with room. */
export const MAX_ENVELOPE_FRAME_BYTES = 2 * 1024 * 1024;
/** Largest provisioning message relayed (the same bound as PUT /v1/provisioning/:address). */
export const MAX_PROVISIONING_BODY_BYTES = 64 * 1024;
const MAX_ERROR_CODE_BYTES = 64;
/** Most copies (recipient devices) one send carries: the HTTP route's limit too. */
export const MAX_SEND_COPIES = 64;
/** Longest human message a SEND_ERROR carries. */
export const MAX_SEND_ERROR_MESSAGE_BYTES = 512;
/** Most device ids in each list of a SEND_ERROR (an account has fewer devices). */
const MAX_MISMATCH_DEVICES = 10_000;

const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;
const PROVISIONING_ADDRESS = /^[A-Za-z0-9_-]{43}$/;
const ACCOUNT_ID = ACCOUNT_ID_PATTERN;
const GROUP_ID = GROUP_ID_PATTERN;

export interface EnvelopeSource {
  readonly accountId: string;
  readonly deviceId: number;
}

/** One copy of a sent message: the envelope for one device of the recipient account. */
export interface SendCopy {
  readonly deviceId: number;
  readonly registrationId: number;
  readonly envelope: Uint8Array;
}

/** The device lists of a DEVICE_LIST_MISMATCH (empty for every other error). */
export interface DeviceMismatch {
  readonly missingDevices: readonly number[];
  readonly extraDevices: readonly number[];
  readonly staleDevices: readonly number[];
}

export type ClientFrame =
  | { readonly kind: 'auth'; readonly login: string }
  | { readonly kind: 'ack'; readonly ids: readonly bigint[] }
  | { readonly kind: 'send'; readonly requestId: number; readonly accountId: string; readonly copies: readonly SendCopy[] }
  | { readonly kind: 'group-send'; readonly requestId: number; readonly groupId: string; readonly envelope: Uint8Array };

export type ServerFrame =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'envelope';
      readonly id: bigint;
      readonly receivedAt: number;
      readonly source: EnvelopeSource | undefined;
      readonly envelope: Uint8Array;
    }
  | { readonly kind: 'queue-empty' }
  | { readonly kind: 'send-ok'; readonly requestId: number; readonly ids: readonly bigint[] }
  | { readonly kind: 'group-send-ok'; readonly requestId: number; readonly stored: number }
  | ({
      readonly kind: 'send-error';
      readonly requestId: number;
      readonly code: string;
      readonly message: string;
      /** Seconds to wait before retrying (RATE_LIMITED), 0 when not given. */
      readonly retryAfter: number;
    } & DeviceMismatch)
  | { readonly kind: 'error'; readonly code: string }
  | { readonly kind: 'provisioning-address'; readonly address: string }
  | { readonly kind: 'provisioning-message'; readonly body: Uint8Array };

export type Frame = ClientFrame | ServerFrame;

export type FrameErrorCode =
  /** The frame ended inside a field (or is empty). */
  | 'TRUNCATED_FRAME'
  /** Bytes left after the last field of the frame's type. */
  | 'TRAILING_BYTES'
  /** A type byte this side does not accept (unknown, or a frame of the other direction). */
  | 'UNKNOWN_FRAME_TYPE'
  /** A field is out of range, too long, not minimal or not valid UTF-8. */
  | 'INVALID_FRAME';

export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
  }

  static is(err: unknown, code?: FrameErrorCode): err is FrameError {
    return err instanceof FrameError && (code === undefined || err.code === code);
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function invalid(message: string): FrameError {
  return new FrameError('INVALID_FRAME', message);
}

// ---- encoding ----

function utf8(text: string, maxBytes: number, what: string): Uint8Array {
  const bytes = utf8Encoder.encode(text);
  if (bytes.length > maxBytes) throw invalid(`${what} longer than ${maxBytes} bytes`);
  return bytes;
}

function checkId(id: bigint, what: string): void {
  if (typeof id !== 'bigint' || id < 0n || id > 0xffffffffffffffffn) throw invalid(`${what} must be an unsigned 64-bit integer`);
}

function checkVarint(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw invalid(`${what} must be an integer from 0 to 2^32 - 1`);
}

/** Encodes any frame; throws FrameError INVALID_FRAME for a value the format cannot carry. */
export function encodeFrame(frame: Frame): Uint8Array {
  switch (frame.kind) {
    case 'auth':
      return new BinaryWriter(200).u8(FrameType.Auth).bytes(utf8(frame.login, MAX_LOGIN_BYTES, 'login')).finish();
    case 'ack': {
      if (frame.ids.length === 0 || frame.ids.length > MAX_ACK_IDS) throw invalid(`an ACK carries 1 to ${MAX_ACK_IDS} ids`);
      const writer = new BinaryWriter(1 + 2 + 8 * frame.ids.length).u8(FrameType.Ack).varint(frame.ids.length);
      for (const id of frame.ids) {
        checkId(id, 'envelope id');
        writer.u64(id);
      }
      return writer.finish();
    }
    case 'send': {
      checkVarint(frame.requestId, 'request id');
      if (!ACCOUNT_ID.test(frame.accountId)) throw invalid('recipient account id must be 32 lowercase hex characters');
      // No copies: a device asking to be told of its own account's other devices (the server checks the list).
      if (frame.copies.length > MAX_SEND_COPIES) throw invalid(`a SEND carries 0 to ${MAX_SEND_COPIES} copies`);
      let size = 1 + 5 + 16 + 1;
      for (const copy of frame.copies) size += 5 + 5 + 5 + copy.envelope.length;
      const writer = new BinaryWriter(size).u8(FrameType.Send).varint(frame.requestId).fixed(fromHex(frame.accountId)).varint(frame.copies.length);
      for (const copy of frame.copies) {
        if (!Number.isInteger(copy.deviceId) || copy.deviceId < 1 || copy.deviceId > 0xffffffff) throw invalid('device id out of range');
        checkVarint(copy.registrationId, 'registration id');
        if (copy.envelope.length > MAX_ENVELOPE_FRAME_BYTES) throw invalid(`envelope longer than ${MAX_ENVELOPE_FRAME_BYTES} bytes`);
        writer.varint(copy.deviceId).varint(copy.registrationId).bytes(copy.envelope);
      }
      return writer.finish();
    }
    case 'group-send': {
      checkVarint(frame.requestId, 'request id');
      if (!GROUP_ID.test(frame.groupId)) throw invalid('group id must be 64 lowercase hex characters');
      if (frame.envelope.length > MAX_ENVELOPE_FRAME_BYTES) throw invalid(`envelope longer than ${MAX_ENVELOPE_FRAME_BYTES} bytes`);
      return new BinaryWriter(1 + 5 + 32 + 5 + frame.envelope.length)
        .u8(FrameType.GroupSend)
        .varint(frame.requestId)
        .fixed(fromHex(frame.groupId))
        .bytes(frame.envelope)
        .finish();
    }
    case 'group-send-ok':
      checkVarint(frame.requestId, 'request id');
      checkVarint(frame.stored, 'stored count');
      return new BinaryWriter(11).u8(FrameType.GroupSendOk).varint(frame.requestId).varint(frame.stored).finish();
    case 'send-ok': {
      checkVarint(frame.requestId, 'request id');
      if (frame.ids.length > MAX_SEND_COPIES) throw invalid(`a SEND_OK carries at most ${MAX_SEND_COPIES} ids`);
      const writer = new BinaryWriter(1 + 5 + 1 + 8 * frame.ids.length).u8(FrameType.SendOk).varint(frame.requestId).varint(frame.ids.length);
      for (const id of frame.ids) {
        checkId(id, 'envelope id');
        writer.u64(id);
      }
      return writer.finish();
    }
    case 'send-error': {
      checkVarint(frame.requestId, 'request id');
      if (!ERROR_CODE.test(frame.code)) throw invalid('error codes are UPPER_SNAKE_CASE');
      checkVarint(frame.retryAfter, 'retryAfter');
      const writer = new BinaryWriter(128 + frame.message.length * 3)
        .u8(FrameType.SendError)
        .varint(frame.requestId)
        .bytes(utf8(frame.code, MAX_ERROR_CODE_BYTES, 'error code'))
        .bytes(utf8(frame.message, MAX_SEND_ERROR_MESSAGE_BYTES, 'error message'))
        .varint(frame.retryAfter);
      for (const list of [frame.missingDevices, frame.extraDevices, frame.staleDevices]) {
        if (list.length > MAX_MISMATCH_DEVICES) throw invalid(`a device list holds at most ${MAX_MISMATCH_DEVICES} ids`);
        writer.varint(list.length);
        for (const id of list) {
          checkVarint(id, 'device id');
          writer.varint(id);
        }
      }
      return writer.finish();
    }
    case 'ready':
      return Uint8Array.of(FrameType.Ready);
    case 'queue-empty':
      return Uint8Array.of(FrameType.QueueEmpty);
    case 'envelope': {
      checkId(frame.id, 'envelope id');
      if (!Number.isSafeInteger(frame.receivedAt) || frame.receivedAt < 0) throw invalid('receivedAt must be a non-negative safe integer');
      if (frame.envelope.length > MAX_ENVELOPE_FRAME_BYTES) throw invalid(`envelope longer than ${MAX_ENVELOPE_FRAME_BYTES} bytes`);
      const writer = new BinaryWriter(1 + 8 + 8 + 1 + 16 + 5 + 5 + frame.envelope.length)
        .u8(FrameType.Envelope)
        .u64(frame.id)
        .u64(BigInt(frame.receivedAt))
        .bool(frame.source !== undefined);
      if (frame.source !== undefined) {
        const { accountId, deviceId } = frame.source;
        if (!ACCOUNT_ID.test(accountId)) throw invalid('source account id must be 32 lowercase hex characters');
        if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > 0xffffffff) throw invalid('source device id out of range');
        writer.fixed(fromHex(accountId)).varint(deviceId);
      }
      return writer.bytes(frame.envelope).finish();
    }
    case 'error': {
      if (!ERROR_CODE.test(frame.code)) throw invalid('error codes are UPPER_SNAKE_CASE');
      return new BinaryWriter(2 + frame.code.length).u8(FrameType.Error).bytes(utf8(frame.code, MAX_ERROR_CODE_BYTES, 'error code')).finish();
    }
    case 'provisioning-address':
      if (!PROVISIONING_ADDRESS.test(frame.address)) throw invalid('a provisioning address is 43 base64url characters');
      return new BinaryWriter(45).u8(FrameType.ProvisioningAddress).bytes(utf8(frame.address, 64, 'address')).finish();
    case 'provisioning-message':
      if (frame.body.length > MAX_PROVISIONING_BODY_BYTES) throw invalid(`provisioning message longer than ${MAX_PROVISIONING_BODY_BYTES} bytes`);
      return new BinaryWriter(4 + frame.body.length).u8(FrameType.ProvisioningMessage).bytes(frame.body).finish();
  }
}

// ---- decoding ----

/**
 * A strict reader over one frame. BinaryReader reports every failure as ProtocolError DECODE_ERROR; the checks here
 * run first so that a frame that merely ends too early is told apart (TRUNCATED_FRAME) from one that is wrong.
 */
class FrameReader {
  private readonly reader: BinaryReader;

  constructor(private readonly data: Uint8Array) {
    this.reader = new BinaryReader(data);
  }

  private need(length: number, what: string): void {
    if (this.reader.remaining < length) throw new FrameError('TRUNCATED_FRAME', `truncated ${what}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.reader.u8(what);
  }

  bool(what: string): boolean {
    const value = this.u8(what);
    if (value > 1) throw invalid(`${what} must be 0 or 1`);
    return value === 1;
  }

  varint(what: string, max = 0xffffffff): number {
    this.need(1, what);
    try {
      return this.reader.varint(what, max);
    } catch (err) {
      if (!ProtocolError.is(err)) throw err;
      // Ran off the end with the continuation bit still set: the varint is cut short, not malformed.
      const last = this.data[this.data.length - 1] ?? 0;
      if (this.reader.remaining === 0 && (last & 0x80) !== 0) throw new FrameError('TRUNCATED_FRAME', `truncated ${what}`);
      throw invalid(`invalid ${what}`);
    }
  }

  u64(what: string): bigint {
    this.need(8, what);
    return this.reader.u64(what);
  }

  fixed(length: number, what: string): Uint8Array {
    this.need(length, what);
    return this.reader.fixed(length, what);
  }

  bytes(maxLength: number, what: string): Uint8Array {
    const length = this.varint(`${what} length`);
    if (length > maxLength) throw invalid(`${what} longer than ${maxLength} bytes`);
    return this.fixed(length, what);
  }

  utf8(maxLength: number, what: string): string {
    const bytes = this.bytes(maxLength, what);
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw invalid(`${what} is not valid UTF-8`);
    }
  }

  end(what: string): void {
    if (this.reader.remaining !== 0) throw new FrameError('TRAILING_BYTES', `trailing bytes after ${what}`);
  }
}

function decodeBody(type: number, r: FrameReader): Frame | undefined {
  switch (type) {
    case FrameType.Auth:
      return { kind: 'auth', login: r.utf8(MAX_LOGIN_BYTES, 'login') };
    case FrameType.Ack: {
      const count = r.varint('ack count');
      if (count === 0 || count > MAX_ACK_IDS) throw invalid(`an ACK carries 1 to ${MAX_ACK_IDS} ids`);
      const ids: bigint[] = [];
      for (let i = 0; i < count; i++) ids.push(r.u64('envelope id'));
      return { kind: 'ack', ids };
    }
    case FrameType.Send: {
      const requestId = r.varint('request id');
      const accountId = toHex(r.fixed(16, 'recipient account id'));
      const count = r.varint('copy count');
      if (count > MAX_SEND_COPIES) throw invalid(`a SEND carries 0 to ${MAX_SEND_COPIES} copies`);
      const copies: SendCopy[] = [];
      for (let i = 0; i < count; i++) {
        const deviceId = r.varint('device id');
        if (deviceId === 0) throw invalid('device id out of range');
        const registrationId = r.varint('registration id');
        copies.push({ deviceId, registrationId, envelope: r.bytes(MAX_ENVELOPE_FRAME_BYTES, 'envelope') });
      }
      return { kind: 'send', requestId, accountId, copies };
    }
    case FrameType.GroupSend: {
      const requestId = r.varint('request id');
      const groupId = toHex(r.fixed(32, 'group id'));
      return { kind: 'group-send', requestId, groupId, envelope: r.bytes(MAX_ENVELOPE_FRAME_BYTES, 'envelope') };
    }
    case FrameType.GroupSendOk: {
      const requestId = r.varint('request id');
      return { kind: 'group-send-ok', requestId, stored: r.varint('stored count') };
    }
    case FrameType.SendOk: {
      const requestId = r.varint('request id');
      const count = r.varint('id count');
      if (count > MAX_SEND_COPIES) throw invalid(`a SEND_OK carries at most ${MAX_SEND_COPIES} ids`);
      const ids: bigint[] = [];
      for (let i = 0; i < count; i++) ids.push(r.u64('envelope id'));
      return { kind: 'send-ok', requestId, ids };
    }
    case FrameType.SendError: {
      const requestId = r.varint('request id');
      const code = r.utf8(MAX_ERROR_CODE_BYTES, 'error code');
      if (!ERROR_CODE.test(code)) throw invalid('error code is not UPPER_SNAKE_CASE');
      const message = r.utf8(MAX_SEND_ERROR_MESSAGE_BYTES, 'error message');
      const retryAfter = r.varint('retryAfter');
      const list = (what: string): number[] => {
        const n = r.varint(`${what} count`);
        if (n > MAX_MISMATCH_DEVICES) throw invalid(`${what} holds more than ${MAX_MISMATCH_DEVICES} ids`);
        const ids: number[] = [];
        for (let i = 0; i < n; i++) ids.push(r.varint(what));
        return ids;
      };
      const missingDevices = list('missing devices');
      const extraDevices = list('extra devices');
      const staleDevices = list('stale devices');
      return { kind: 'send-error', requestId, code, message, retryAfter, missingDevices, extraDevices, staleDevices };
    }
    case FrameType.Ready:
      return { kind: 'ready' };
    case FrameType.QueueEmpty:
      return { kind: 'queue-empty' };
    case FrameType.Envelope: {
      const id = r.u64('envelope id');
      const receivedAt = r.u64('receivedAt');
      if (receivedAt > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('receivedAt out of range');
      let source: EnvelopeSource | undefined;
      if (r.bool('source flag')) {
        const accountId = toHex(r.fixed(16, 'source account id'));
        const deviceId = r.varint('source device id');
        if (deviceId === 0) throw invalid('source device id out of range');
        source = { accountId, deviceId };
      }
      const envelope = r.bytes(MAX_ENVELOPE_FRAME_BYTES, 'envelope');
      return { kind: 'envelope', id, receivedAt: Number(receivedAt), source, envelope };
    }
    case FrameType.Error: {
      const code = r.utf8(MAX_ERROR_CODE_BYTES, 'error code');
      if (!ERROR_CODE.test(code)) throw invalid('error code is not UPPER_SNAKE_CASE');
      return { kind: 'error', code };
    }
    case FrameType.ProvisioningAddress: {
      const address = r.utf8(64, 'provisioning address');
      if (!PROVISIONING_ADDRESS.test(address)) throw invalid('a provisioning address is 43 base64url characters');
      return { kind: 'provisioning-address', address };
    }
    case FrameType.ProvisioningMessage:
      return { kind: 'provisioning-message', body: r.bytes(MAX_PROVISIONING_BODY_BYTES, 'provisioning message') };
    default:
      return undefined;
  }
}

/** Decodes a frame of either direction. Throws FrameError (see FrameErrorCode). */
export function decodeFrame(bytes: Uint8Array): Frame {
  const r = new FrameReader(bytes);
  const type = r.u8('frame type');
  const frame = decodeBody(type, r);
  if (!frame) throw new FrameError('UNKNOWN_FRAME_TYPE', `unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
  r.end(`${frame.kind} frame`);
  return frame;
}

const CLIENT_KINDS: ReadonlySet<Frame['kind']> = new Set(['auth', 'ack', 'send', 'group-send']);

/** What the server accepts: AUTH, ACK, SEND or GROUP_SEND; a server→client type is UNKNOWN_FRAME_TYPE here. */
export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  if (bytes.length > 0 && !isClientType(bytes[0] as number)) {
    throw new FrameError('UNKNOWN_FRAME_TYPE', `frame type 0x${(bytes[0] as number).toString(16).padStart(2, '0')} is not a client frame`);
  }
  const frame = decodeFrame(bytes);
  if (!CLIENT_KINDS.has(frame.kind)) throw new FrameError('UNKNOWN_FRAME_TYPE', 'not a client frame');
  return frame as ClientFrame;
}

/** What a client accepts: every server→client type; AUTH, ACK, SEND and GROUP_SEND are UNKNOWN_FRAME_TYPE here. */
export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  if (bytes.length > 0 && isClientType(bytes[0] as number)) {
    throw new FrameError('UNKNOWN_FRAME_TYPE', `frame type 0x${(bytes[0] as number).toString(16).padStart(2, '0')} is not a server frame`);
  }
  const frame = decodeFrame(bytes);
  return frame as ServerFrame;
}

function isClientType(type: number): boolean {
  return type === FrameType.Auth || type === FrameType.Ack || type === FrameType.Send || type === FrameType.GroupSend;
}

/** WebSocket close codes the server uses (4000–4999 are ours; docs/api.md lists them). */
export const CloseCode = {
  /** Provisioning message delivered, or a normal close. */
  Normal: 1000,
  /** The server is shutting down; reconnect (to another node) after a short delay. */
  GoingAway: 1001,
  /** Storage failed while delivering; reconnect with backoff. */
  InternalError: 1011,
  /** Missing, malformed or wrong credentials, or no AUTH frame within the time allowed. */
  Unauthorized: 4001,
  /** A newer connection of the same device opened (on this node or another): do not reconnect automatically. */
  Replaced: 4002,
  /** The device or its account was removed. */
  DeviceRemoved: 4003,
  /** The provisioning socket expired unused. */
  ProvisioningExpired: 4008,
  /** Too many authentication attempts; retry later. */
  RateLimited: 4029,
} as const;

/** Stable codes carried by ERROR frames. */
export const WebSocketErrorCode = {
  /** The frame could not be decoded (or was a text frame); it was ignored. */
  BadFrame: 'BAD_FRAME',
  /** A well-formed frame this endpoint or state does not accept (e.g. a second AUTH); it was ignored. */
  UnexpectedFrame: 'UNEXPECTED_FRAME',
  /** Some acknowledged ids are not (or no longer) in this device's queue; the others were acknowledged. */
  UnknownEnvelopeAck: 'UNKNOWN_ENVELOPE_ACK',
  /** The server could not process the frame (storage failure); retry it. */
  Internal: 'INTERNAL',
} as const;

export type WebSocketErrorCode = (typeof WebSocketErrorCode)[keyof typeof WebSocketErrorCode];
