/**
 * The CryptoProvider interface: every primitive the protocol uses, behind one seam, so that the same protocol code
 * runs on node:crypto (Node) and on WebCrypto + @noble (browsers). Implementations must pass the Wycheproof vectors
 * in `test/vectors/` and agree with each other on random inputs.
 *
 * Keys cross this interface as raw bytes (32-byte X25519 / Ed25519 keys, FIPS 203 encodings for ML-KEM), so that
 * stored state never depends on one provider's key objects.
 */

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export interface KemEncapsulation {
  readonly ciphertext: Uint8Array;
  readonly sharedSecret: Uint8Array;
}

export const X25519_KEY_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_PRIVATE_KEY_LENGTH = 32; // RFC 8032 §5.1.5: the 32-byte seed
export const ED25519_SIGNATURE_LENGTH = 64;
export const AES_GCM_KEY_LENGTH = 32;
export const AES_GCM_IV_LENGTH = 12;
export const AES_GCM_TAG_LENGTH = 16;
/** FIPS 203 Table 3, ML-KEM-1024. */
export const MLKEM1024_PUBLIC_KEY_LENGTH = 1568;
export const MLKEM1024_SECRET_KEY_LENGTH = 3168;
export const MLKEM1024_CIPHERTEXT_LENGTH = 1568;
export const MLKEM1024_SHARED_SECRET_LENGTH = 32;
/** FIPS 203 §7.1: ML-KEM.KeyGen_internal takes d || z, 64 bytes. */
export const MLKEM_SEED_LENGTH = 64;

export interface CryptoProvider {
  /** A short name for logs and benchmark output ("node", "web"). */
  readonly name: string;

  /** Cryptographically secure random bytes. Throws INVALID_ARGUMENT unless `length` is a non-negative integer. */
  randomBytes(length: number): Uint8Array;

  sha256(data: Uint8Array): Promise<Uint8Array>;
  sha512(data: Uint8Array): Promise<Uint8Array>;
  hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /**
   * RFC 5869 HKDF with SHA-256. `salt` may be empty (treated as HashLen zero bytes, §2.2). Throws INVALID_ARGUMENT
   * unless 0 <= `length` <= 255 * 32 (§2.3) and `info` is at most 1024 bytes (Node's limit; every provider keeps it).
   */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>;

  /** AES-256-GCM, 12-byte IV; returns ciphertext || 16-byte tag. Other key or IV lengths: INVALID_ARGUMENT. */
  aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /**
   * Inverse of aesGcmEncrypt; throws ProtocolError BAD_MAC when the tag does not verify, including for a ciphertext
   * shorter than the tag.
   */
  aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;

  /** A fresh X25519 key pair (RFC 7748), raw 32-byte keys. */
  x25519GenerateKeyPair(): Promise<KeyPair>;
  /**
   * X25519(privateKey, publicKey) (RFC 7748 §5). Throws ProtocolError INVALID_KEY when the result is all zeros
   * (RFC 7748 §6.1: a low-order public key), or when a key has the wrong length.
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;

  /**
   * X25519 of one private key with each of `publicKeys`, with the checks of `x25519`. Equivalent to calling
   * `x25519` per public key; it exists because importing a raw private key is the expensive part on node:crypto.
   */
  x25519Many(privateKey: Uint8Array, publicKeys: readonly Uint8Array[]): Promise<Uint8Array[]>;
  /**
   * A fresh X25519 key pair and its DH with each of `publicKeys` (the checks of `x25519`), without exporting and
   * re-importing the new private key in between: an ephemeral or ratchet key is used as soon as it is made.
   */
  x25519GenerateAndAgree(publicKeys: readonly Uint8Array[]): Promise<{ keyPair: KeyPair; shared: Uint8Array[] }>;

  /** A fresh Ed25519 key pair (RFC 8032): 32-byte seed as private key, 32-byte public key. */
  ed25519GenerateKeyPair(): Promise<KeyPair>;
  /** Deterministic RFC 8032 signature. Throws INVALID_KEY unless the private key (seed) is 32 bytes. */
  ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /**
   * False for any invalid signature or malformed public key; never throws on bad input. RFC 8032 §5.1.7 with
   * canonical encodings, S < L, the cofactorless equation, and small-order public keys refused, so that every
   * provider gives the same answer.
   */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;

  /**
   * ML-KEM-1024 (FIPS 203). With `seed` (64 bytes d||z) the key pair is deterministic (for test vectors); a seed of
   * another length throws INVALID_ARGUMENT.
   */
  mlkem1024GenerateKeyPair(seed?: Uint8Array): Promise<KeyPair>;
  /**
   * Throws ProtocolError INVALID_KEY when the encapsulation key fails the FIPS 203 §7.2 modulus check or is not
   * 1568 bytes.
   */
  mlkem1024Encapsulate(publicKey: Uint8Array): Promise<KemEncapsulation>;
  /**
   * FIPS 203 §7.3. Throws INVALID_KEY when the decapsulation key is not 3168 bytes or fails its hash check, and
   * INVALID_ARGUMENT when the ciphertext is not 1568 bytes. A ciphertext that does not decrypt is not an error: it
   * yields an unrelated secret (implicit rejection), so the mismatch shows up as a failed MAC later.
   */
  mlkem1024Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array>;
}
