/**
 * Wire form of a Double Ratchet message (docs/wire-format.md, "Ratchet and prekey messages"):
 *
 *   u8 version (RATCHET_MESSAGE_VERSION) | 32 bytes ratchet public key | varint PN | varint N | bytes ciphertext
 *
 * Everything before the ciphertext is the header of Double Ratchet §3.4; its exact bytes are authenticated as part
 * of the AEAD associated data (AD || header), so changing any header byte makes decryption fail.
 */
import { X25519_KEY_LENGTH } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { BinaryReader, BinaryWriter } from './binary.js';
import { MAX_ENVELOPE_CONTENT } from './envelope.js';

export const RATCHET_MESSAGE_VERSION = 1;
/** Padded plaintext plus the GCM tag can never exceed what an envelope carries. */
export const MAX_RATCHET_CIPHERTEXT_LENGTH = MAX_ENVELOPE_CONTENT;

export interface RatchetHeader {
  readonly ratchetKey: Uint8Array;
  readonly previousCounter: number;
  readonly counter: number;
}

export interface RatchetMessage {
  readonly header: RatchetHeader;
  /** The encoded header bytes exactly as sent (the AEAD covers these). */
  readonly headerBytes: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export function encodeRatchetHeader(header: RatchetHeader): Uint8Array {
  return new BinaryWriter(48)
    .u8(RATCHET_MESSAGE_VERSION)
    .fixed(header.ratchetKey)
    .varint(header.previousCounter)
    .varint(header.counter)
    .finish();
}

export function encodeRatchetMessage(headerBytes: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return new BinaryWriter(headerBytes.length + ciphertext.length + 4).fixed(headerBytes).bytes(ciphertext).finish();
}

export function decodeRatchetMessage(bytes: Uint8Array): RatchetMessage {
  const r = new BinaryReader(bytes);
  const version = r.u8('ratchet message version');
  if (version !== RATCHET_MESSAGE_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown ratchet message version');
  }
  const ratchetKey = r.fixed(X25519_KEY_LENGTH, 'ratchet key');
  const previousCounter = r.varint('previous counter');
  const counter = r.varint('counter');
  const headerLength = bytes.length - r.remaining;
  const ciphertext = r.bytes(MAX_RATCHET_CIPHERTEXT_LENGTH, 'ciphertext');
  r.end('ratchet message');
  return {
    header: { ratchetKey, previousCounter, counter },
    headerBytes: bytes.slice(0, headerLength),
    ciphertext,
  };
}
