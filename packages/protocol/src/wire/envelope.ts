/**
 * The envelope: the unit the server stores in a device's queue and relays to it (docs/wire-format.md "Envelope").
 * It carries only what delivery needs — a version, the kind of ciphertext inside, the sender's timestamp — and the
 * ciphertext itself, which the server cannot read. Routing (recipient account and device, sender device when not
 * sealed) lives in the server API, not here, so that the envelope holds no more metadata than the ciphertext does.
 *
 *   u8 version (1) | u8 type | u64 timestamp (big-endian, ms since the Unix epoch) | varint length | content
 *
 * Decoding is strict (src/wire/binary.ts): truncation, a length above MAX_ENVELOPE_CONTENT and trailing bytes are
 * DECODE_ERROR; a version other than ENVELOPE_VERSION is UNKNOWN_VERSION, checked before anything else is read,
 * because a later version may lay out the rest differently.
 */
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';

/** The envelope layout this code writes and the only one it reads. */
export const ENVELOPE_VERSION = 1;

/** What the content is, so that the recipient knows which decryptor to use. */
export const EnvelopeType = {
  /** A PQXDH initial message (it can create a session): src/pqxdh.ts. */
  PreKeyMessage: 1,
  /** A Double Ratchet message on an existing session: src/ratchet. */
  Message: 2,
  /**
   * Reserved for sealed sender: the sender's identity and the inner message, encrypted to the recipient; the content
   * layout is defined with src/sealed-sender.ts. The envelope codec accepts it since content is opaque here.
   */
  SealedSender: 3,
  /**
   * An MLS message of a group (RFC 9420 §6: MLSMessage carrying a PublicMessage or PrivateMessage — a commit, a
   * proposal or an application message); the server fans the same bytes out to every member device.
   */
  GroupMessage: 4,
  /** An MLS Welcome (RFC 9420 §12.4.3.1) for devices a commit adds to a group. */
  GroupWelcome: 5,
} as const;

export type EnvelopeType = (typeof EnvelopeType)[keyof typeof EnvelopeType];

const ENVELOPE_TYPES: ReadonlySet<number> = new Set(Object.values(EnvelopeType));

/** The largest plaintext a message may carry (attachments travel as blobs, referenced by id, key and digest). */
export const MAX_MESSAGE_PLAINTEXT = 256 * 1024;

/**
 * The largest `content` an envelope may hold: a MAX_MESSAGE_PLAINTEXT plaintext after padding (src/wire/padding.ts:
 * 264 KiB) plus the ratchet header, AEAD tag and PQXDH fields (an ML-KEM-1024 ciphertext, public keys, prekey ids),
 * with room to spare: 16 KiB in all above the plaintext limit.
 */
export const MAX_ENVELOPE_CONTENT = MAX_MESSAGE_PLAINTEXT + 16 * 1024;

/**
 * The largest content of a group envelope (GroupMessage, GroupWelcome): MLS commits and Welcomes grow with the
 * group (a Welcome carries one encrypted secret per new member), so groups get a larger bound than 1:1 messages.
 */
export const MAX_GROUP_ENVELOPE_CONTENT = 1024 * 1024;

/** The content limit of an envelope of `type`. */
export function maxEnvelopeContent(type: EnvelopeType): number {
  return type === EnvelopeType.GroupMessage || type === EnvelopeType.GroupWelcome ? MAX_GROUP_ENVELOPE_CONTENT : MAX_ENVELOPE_CONTENT;
}

/** The fixed part of an encoded envelope: version, type, timestamp (the length prefix is 1–3 bytes more). */
const ENVELOPE_HEADER_LENGTH = 1 + 1 + 8;

export interface Envelope {
  readonly type: EnvelopeType;
  /** Milliseconds since the Unix epoch, set by the sender (a safe integer; u64 on the wire). */
  readonly timestamp: number;
  /** The ciphertext, at most MAX_ENVELOPE_CONTENT bytes. */
  readonly content: Uint8Array;
}

function invalid(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidArgument, message);
}

function isEnvelopeType(value: number): value is EnvelopeType {
  return ENVELOPE_TYPES.has(value);
}

/**
 * Encodes an envelope at ENVELOPE_VERSION. Throws INVALID_ARGUMENT for an unknown type, a timestamp that is not a
 * non-negative safe integer, or content longer than MAX_ENVELOPE_CONTENT.
 * @example encodeEnvelope({ type: EnvelopeType.Message, timestamp: Date.now(), content: ciphertext })
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  if (!isEnvelopeType(envelope.type)) throw invalid('unknown envelope type');
  if (!Number.isSafeInteger(envelope.timestamp) || envelope.timestamp < 0) {
    throw invalid('envelope timestamp must be a non-negative safe integer');
  }
  if (!(envelope.content instanceof Uint8Array)) throw invalid('envelope content must be a Uint8Array');
  if (envelope.content.length > maxEnvelopeContent(envelope.type)) {
    throw invalid(`envelope content longer than ${maxEnvelopeContent(envelope.type)} bytes`);
  }
  return new BinaryWriter(ENVELOPE_HEADER_LENGTH + 3 + envelope.content.length)
    .u8(ENVELOPE_VERSION)
    .u8(envelope.type)
    .u64(BigInt(envelope.timestamp))
    .bytes(envelope.content)
    .finish();
}

/**
 * Decodes an envelope. Throws UNKNOWN_VERSION when the first byte is not ENVELOPE_VERSION, and DECODE_ERROR for an
 * unknown type, a timestamp beyond Number.MAX_SAFE_INTEGER, an oversized or truncated content, or trailing bytes.
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const reader = new BinaryReader(bytes);
  const version = reader.u8('envelope version');
  if (version !== ENVELOPE_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, `unknown envelope version ${version}`);
  }
  const type = reader.u8('envelope type');
  if (!isEnvelopeType(type)) throw new ProtocolError(ProtocolErrorCode.Decode, 'unknown envelope type');
  const timestamp = reader.u64('envelope timestamp');
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'envelope timestamp out of range');
  }
  const content = reader.bytes(maxEnvelopeContent(type), 'envelope content');
  reader.end('envelope');
  return { type, timestamp: Number(timestamp), content };
}
