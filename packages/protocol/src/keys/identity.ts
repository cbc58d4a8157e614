/**
 * Account identity keys.
 *
 * PQXDH §2.2 uses one curve key IK for both DH and signatures (XEdDSA). node:crypto and WebCrypto offer X25519 and
 * Ed25519 but not XEdDSA, so an identity here is a pair: an Ed25519 key that signs prekeys and an X25519 key that
 * takes part in the PQXDH DHs. Both halves are bound together by being one public value: the 65-byte encoding below
 * is what safety numbers fingerprint, what PQXDH puts in the associated data (§3.3) and what the trust store pins.
 * Replacing either half therefore changes the identity. (Documented in docs/protocol.md, "Identity keys".)
 */
import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import { ED25519_PUBLIC_KEY_LENGTH, X25519_KEY_LENGTH } from '../crypto/provider.js';
import { constantTimeEqual } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';

export const IDENTITY_KEY_VERSION = 0x01;
export const IDENTITY_KEY_LENGTH = 1 + ED25519_PUBLIC_KEY_LENGTH + X25519_KEY_LENGTH;

export interface IdentityKey {
  /** Ed25519 public key: verifies prekey signatures. */
  readonly signingKey: Uint8Array;
  /** X25519 public key: IK in the PQXDH DHs. */
  readonly agreementKey: Uint8Array;
}

export interface IdentityKeyPair {
  readonly publicKey: IdentityKey;
  readonly signing: KeyPair;
  readonly agreement: KeyPair;
}

export async function generateIdentityKeyPair(provider: CryptoProvider): Promise<IdentityKeyPair> {
  const signing = await provider.ed25519GenerateKeyPair();
  const agreement = await provider.x25519GenerateKeyPair();
  return { publicKey: { signingKey: signing.publicKey, agreementKey: agreement.publicKey }, signing, agreement };
}

export function encodeIdentityKey(key: IdentityKey): Uint8Array {
  const out = new Uint8Array(IDENTITY_KEY_LENGTH);
  out[0] = IDENTITY_KEY_VERSION;
  out.set(key.signingKey, 1);
  out.set(key.agreementKey, 1 + ED25519_PUBLIC_KEY_LENGTH);
  return out;
}

export function decodeIdentityKey(bytes: Uint8Array): IdentityKey {
  if (bytes.length !== IDENTITY_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.Decode, `identity key must be ${IDENTITY_KEY_LENGTH} bytes`);
  }
  if (bytes[0] !== IDENTITY_KEY_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown identity key version');
  }
  return {
    signingKey: bytes.slice(1, 1 + ED25519_PUBLIC_KEY_LENGTH),
    agreementKey: bytes.slice(1 + ED25519_PUBLIC_KEY_LENGTH),
  };
}

export function identityKeysEqual(a: IdentityKey, b: IdentityKey): boolean {
  return constantTimeEqual(encodeIdentityKey(a), encodeIdentityKey(b));
}

/** Serialized private identity (for a device's local store and the provisioning of linked devices). */
export function encodeIdentityKeyPair(pair: IdentityKeyPair): Uint8Array {
  const out = new Uint8Array(1 + 4 * 32);
  out[0] = IDENTITY_KEY_VERSION;
  out.set(pair.signing.publicKey, 1);
  out.set(pair.signing.privateKey, 33);
  out.set(pair.agreement.publicKey, 65);
  out.set(pair.agreement.privateKey, 97);
  return out;
}

export function decodeIdentityKeyPair(bytes: Uint8Array): IdentityKeyPair {
  if (bytes.length !== 129) throw new ProtocolError(ProtocolErrorCode.Decode, 'identity key pair must be 129 bytes');
  if (bytes[0] !== IDENTITY_KEY_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown identity key pair version');
  }
  const signing = { publicKey: bytes.slice(1, 33), privateKey: bytes.slice(33, 65) };
  const agreement = { publicKey: bytes.slice(65, 97), privateKey: bytes.slice(97, 129) };
  return { publicKey: { signingKey: signing.publicKey, agreementKey: agreement.publicKey }, signing, agreement };
}
