/**
 * Wire form of PQXDH's initial message (PQXDH §3.3 "Alice then sends Bob an initial message containing ..."):
 *
 *   u8 version | 65 bytes identity key IK_A | 32 bytes base key EK_A | varint signed prekey id
 *   | u8 has-one-time-prekey | [varint one-time prekey id] | varint ML-KEM prekey id | 1568 bytes ML-KEM ciphertext
 *   | bytes ratchet message
 *
 * None of these fields is authenticated on its own: each feeds SK (or the AD), so altering one makes the embedded
 * ratchet message fail to decrypt, exactly as in the spec.
 */
import { MLKEM1024_CIPHERTEXT_LENGTH, X25519_KEY_LENGTH } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { IDENTITY_KEY_LENGTH } from '../keys/identity.js';
import { BinaryReader, BinaryWriter } from './binary.js';
import { MAX_RATCHET_CIPHERTEXT_LENGTH } from './ratchet-message.js';

export const PREKEY_MESSAGE_VERSION = 1;

export interface PreKeyMessage {
  readonly identityKey: Uint8Array;
  readonly baseKey: Uint8Array;
  readonly signedPreKeyId: number;
  readonly oneTimePreKeyId: number | undefined;
  readonly kyberPreKeyId: number;
  readonly kemCiphertext: Uint8Array;
  readonly message: Uint8Array;
}

export function encodePreKeyMessage(m: PreKeyMessage): Uint8Array {
  const w = new BinaryWriter(1700 + m.message.length)
    .u8(PREKEY_MESSAGE_VERSION)
    .fixed(m.identityKey)
    .fixed(m.baseKey)
    .varint(m.signedPreKeyId)
    .bool(m.oneTimePreKeyId !== undefined);
  if (m.oneTimePreKeyId !== undefined) w.varint(m.oneTimePreKeyId);
  return w.varint(m.kyberPreKeyId).fixed(m.kemCiphertext).bytes(m.message).finish();
}

export function decodePreKeyMessage(bytes: Uint8Array): PreKeyMessage {
  const r = new BinaryReader(bytes);
  if (r.u8('prekey message version') !== PREKEY_MESSAGE_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown prekey message version');
  }
  const identityKey = r.fixed(IDENTITY_KEY_LENGTH, 'identity key');
  const baseKey = r.fixed(X25519_KEY_LENGTH, 'base key');
  const signedPreKeyId = r.varint('signed prekey id');
  const oneTimePreKeyId = r.bool('one-time prekey flag') ? r.varint('one-time prekey id') : undefined;
  const kyberPreKeyId = r.varint('ML-KEM prekey id');
  const kemCiphertext = r.fixed(MLKEM1024_CIPHERTEXT_LENGTH, 'ML-KEM ciphertext');
  const message = r.bytes(MAX_RATCHET_CIPHERTEXT_LENGTH, 'ratchet message');
  r.end('prekey message');
  return { identityKey, baseKey, signedPreKeyId, oneTimePreKeyId, kyberPreKeyId, kemCiphertext, message };
}
