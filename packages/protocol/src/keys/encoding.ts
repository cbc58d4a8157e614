/**
 * EncodeEC / EncodeKEM of PQXDH §2.1: a single type byte followed by the key's own encoding, so that the ranges of
 * the encodings are pairwise disjoint and a signature over one can never be read as a signature over the other.
 * The type bytes are ours to choose (§2.1 "defined by the implementer"); they are part of the wire format
 * (docs/wire-format.md) and never change for a given key type.
 */
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { MLKEM1024_PUBLIC_KEY_LENGTH, X25519_KEY_LENGTH } from '../crypto/provider.js';

/** Curve25519 u-coordinate (the same byte libsignal uses). */
export const KEY_TYPE_X25519 = 0x05;
/** ML-KEM-1024 encapsulation key (FIPS 203). */
export const KEY_TYPE_MLKEM1024 = 0x0a;

export function encodeEc(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== X25519_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'X25519 public key must be 32 bytes');
  }
  const out = new Uint8Array(1 + X25519_KEY_LENGTH);
  out[0] = KEY_TYPE_X25519;
  out.set(publicKey, 1);
  return out;
}

export function encodeKem(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== MLKEM1024_PUBLIC_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'ML-KEM-1024 public key must be 1568 bytes');
  }
  const out = new Uint8Array(1 + MLKEM1024_PUBLIC_KEY_LENGTH);
  out[0] = KEY_TYPE_MLKEM1024;
  out.set(publicKey, 1);
  return out;
}
