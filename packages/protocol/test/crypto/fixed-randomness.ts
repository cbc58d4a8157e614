/**
 * A CryptoProvider whose only sources of randomness — fresh X25519 key pairs and ML-KEM encapsulation — draw from
 * fixed queues, for known-answer vectors of code that makes its own keys (PQXDH's ephemeral key, the Double
 * Ratchet's ratchet keys). Everything else is the wrapped provider itself, so the derivations under test run on it.
 * Any other use of randomness throws: a vector must depend on its listed inputs only.
 */
import type { CryptoProvider, KemEncapsulation, KeyPair } from '../../src/crypto/provider.js';
import type { TestedProvider } from './providers.js';

/** RFC 7748 §4.1: the u-coordinate of the X25519 base point, 9. */
const X25519_BASE_POINT = new Uint8Array(32);
X25519_BASE_POINT[0] = 9;

export interface FixedRandomness {
  /** Private keys handed out, in order, by x25519GenerateKeyPair and x25519GenerateAndAgree. */
  readonly x25519PrivateKeys?: readonly Uint8Array[];
  /** The 32-byte m of ML-KEM.Encaps_internal (FIPS 203 §6.2), in order, for each mlkem1024Encapsulate. */
  readonly mlkemEncapsulationRandomness?: readonly Uint8Array[];
}

export type FixedRandomnessProvider = CryptoProvider & {
  /** How many fixed values of each kind are still unused (a vector should use exactly the ones it lists). */
  remaining(): { x25519PrivateKeys: number; mlkemEncapsulationRandomness: number };
};

export function withFixedRandomness(base: TestedProvider, fixed: FixedRandomness): FixedRandomnessProvider {
  // Copies, so that code wiping a private key after use (PQXDH wipes EK_A) cannot change the caller's vector.
  const keys = (fixed.x25519PrivateKeys ?? []).map((k) => k.slice());
  const ms = (fixed.mlkemEncapsulationRandomness ?? []).map((m) => m.slice());
  const unexpected = (what: string): never => {
    throw new Error(`fixed-randomness provider: unexpected ${what}`);
  };
  const nextKeyPair = async (): Promise<KeyPair> => {
    const privateKey = keys.shift() ?? unexpected('X25519 key generation (queue empty)');
    return { publicKey: await base.x25519(privateKey, X25519_BASE_POINT), privateKey };
  };
  return {
    name: `${base.name}+fixed-randomness`,
    remaining: () => ({ x25519PrivateKeys: keys.length, mlkemEncapsulationRandomness: ms.length }),
    randomBytes: () => unexpected('randomBytes'),
    sha256: (data) => base.sha256(data),
    sha512: (data) => base.sha512(data),
    hmacSha256: (key, data) => base.hmacSha256(key, data),
    hkdfSha256: (ikm, salt, info, length) => base.hkdfSha256(ikm, salt, info, length),
    aesGcmEncrypt: (key, iv, plaintext, aad) => base.aesGcmEncrypt(key, iv, plaintext, aad),
    aesGcmDecrypt: (key, iv, ciphertext, aad) => base.aesGcmDecrypt(key, iv, ciphertext, aad),
    x25519GenerateKeyPair: nextKeyPair,
    x25519: (privateKey, publicKey) => base.x25519(privateKey, publicKey),
    x25519Many: (privateKey, publicKeys) => base.x25519Many(privateKey, publicKeys),
    async x25519GenerateAndAgree(publicKeys) {
      const keyPair = await nextKeyPair();
      return { keyPair, shared: await base.x25519Many(keyPair.privateKey, publicKeys) };
    },
    ed25519GenerateKeyPair: () => unexpected('Ed25519 key generation'),
    ed25519Sign: (privateKey, message) => base.ed25519Sign(privateKey, message),
    ed25519Verify: (publicKey, message, signature) => base.ed25519Verify(publicKey, message, signature),
    mlkem1024GenerateKeyPair: (seed) =>
      seed === undefined ? unexpected('ML-KEM key generation without a seed') : base.mlkem1024GenerateKeyPair(seed),
    async mlkem1024Encapsulate(publicKey): Promise<KemEncapsulation> {
      const m = ms.shift() ?? unexpected('ML-KEM encapsulation (queue empty)');
      return base.mlkem1024EncapsulateWithRandomness(publicKey, m);
    },
    mlkem1024Decapsulate: (ciphertext, secretKey) => base.mlkem1024Decapsulate(ciphertext, secretKey),
  };
}
