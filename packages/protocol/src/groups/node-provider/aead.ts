/**
 * The AEADs of the MLS cipher suites (RFC 9420 §5.1, RFC 9180 §7.3): AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
 * on node:crypto, 12-byte nonces and 16-byte tags. A failed open throws CryptoError and wipes what it decrypted.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { AeadAlgorithm } from 'ts-mls';
import { concatBytes } from '../../crypto/bytes.js';
import { CryptoError } from '../ts-mls-internals.js';
import { plain } from './bytes.js';

export interface AeadSpec {
  readonly id: number;
  readonly cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  readonly keyLength: number;
}

export const AEADS: Record<AeadAlgorithm, AeadSpec> = {
  AES128GCM: { id: 0x0001, cipher: 'aes-128-gcm', keyLength: 16 },
  AES256GCM: { id: 0x0002, cipher: 'aes-256-gcm', keyLength: 32 },
  CHACHA20POLY1305: { id: 0x0003, cipher: 'chacha20-poly1305', keyLength: 32 },
};
export const AEAD_NONCE_LENGTH = 12;
const AEAD_TAG_LENGTH = 16;

export function aeadSeal(spec: AeadSpec, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) {
  if (key.length !== spec.keyLength || nonce.length !== AEAD_NONCE_LENGTH) {
    throw new CryptoError('AEAD: bad key or nonce length');
  }
  // The casts pick node's CipherGCM / CipherChaCha20Poly1305 overloads, which share this shape.
  const cipher = createCipheriv(spec.cipher as 'aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  const rest = cipher.final();
  return concatBytes(body, rest, cipher.getAuthTag());
}

export function aeadOpen(spec: AeadSpec, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) {
  if (key.length !== spec.keyLength || nonce.length !== AEAD_NONCE_LENGTH) {
    throw new CryptoError('AEAD: bad key or nonce length');
  }
  if (ciphertext.length < AEAD_TAG_LENGTH) throw new CryptoError('AEAD: ciphertext shorter than the tag');
  const bodyLength = ciphertext.length - AEAD_TAG_LENGTH;
  const decipher = createDecipheriv(spec.cipher as 'aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  decipher.setAAD(aad, { plaintextLength: bodyLength });
  decipher.setAuthTag(ciphertext.subarray(bodyLength));
  const body = decipher.update(ciphertext.subarray(0, bodyLength));
  try {
    const rest = decipher.final();
    return rest.length === 0 ? plain(body) : concatBytes(body, rest);
  } catch {
    body.fill(0); // unauthenticated plaintext never leaves
    throw new CryptoError('AEAD: authentication failed');
  }
}
