/**
 * CryptoProvider for browsers: WebCrypto (`crypto.subtle`) for SHA-2, HMAC, HKDF (RFC 5869) and AES-256-GCM;
 * @noble/curves for X25519 (RFC 7748) and Ed25519 (RFC 8032), whose WebCrypto support still varies between browsers;
 * @noble/post-quantum for ML-KEM-1024 (FIPS 203). Imports nothing from `node:*`, so it also runs in Node ≥ 20.
 *
 * The argument checks and the ML-KEM code here are shared with NodeCryptoProvider, so both providers reject the same
 * inputs with the same ProtocolError codes:
 * - INVALID_KEY: an X25519, Ed25519 or ML-KEM key of the wrong length or failing validation, and an all-zero X25519
 *   output (keys come from peers and from storage, so the caller must be able to tell "bad key" apart).
 * - INVALID_ARGUMENT: any other argument of the wrong length or range (AES key and IV, seeds, ML-KEM ciphertext,
 *   HKDF output length and info length, byte counts). Symmetric keys and IVs come from our own KDFs, so a wrong
 *   length there is a programming error.
 * - BAD_MAC: an AES-GCM ciphertext that does not authenticate, including one too short to hold its tag.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, equalBytes } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { CryptoProvider, KemEncapsulation, KeyPair } from './provider.js';
import {
  AES_GCM_IV_LENGTH,
  AES_GCM_KEY_LENGTH,
  AES_GCM_TAG_LENGTH,
  ED25519_PRIVATE_KEY_LENGTH,
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  MLKEM1024_CIPHERTEXT_LENGTH,
  MLKEM1024_PUBLIC_KEY_LENGTH,
  MLKEM1024_SECRET_KEY_LENGTH,
  MLKEM_SEED_LENGTH,
  X25519_KEY_LENGTH,
} from './provider.js';

/** RFC 5869 §2.3: L <= 255 * HashLen. */
export const HKDF_SHA256_MAX_LENGTH = 255 * 32;
/**
 * Node's HKDF (hkdfSync and its WebCrypto) rejects `info` longer than 1024 bytes; browsers do not. Both providers
 * enforce Node's limit so that they accept exactly the same inputs. Protocol info strings are short constants.
 */
export const HKDF_MAX_INFO_LENGTH = 1024;
/** FIPS 203 §7.2: ML-KEM.Encaps draws a 32-byte message m. */
export const MLKEM_ENCAPS_RANDOMNESS_LENGTH = 32;

/** crypto.getRandomValues fills at most 65536 bytes per call (WebCrypto §10.1.1). */
const MAX_RANDOM_VALUES_BYTES = 65_536;
/** RFC 2104 §2: HMAC pads its key with zeros to the 64-byte SHA-256 block, so an empty key equals 64 zero bytes. */
const HMAC_SHA256_ZERO_BLOCK = new Uint8Array(64);

/** @internal Throws INVALID_KEY unless `key` is a Uint8Array of exactly `length` bytes. */
export function assertKeyLength(key: Uint8Array, length: number, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== length) {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, `${what} must be ${length} bytes`);
  }
}

/** @internal Throws INVALID_ARGUMENT unless `bytes` is a Uint8Array (of exactly `length` bytes, when given). */
export function assertBytes(bytes: Uint8Array, what: string, length?: number): void {
  if (!(bytes instanceof Uint8Array) || (length !== undefined && bytes.length !== length)) {
    const expected = length === undefined ? 'a Uint8Array' : `${length} bytes`;
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `${what} must be ${expected}`);
  }
}

/** @internal Throws INVALID_ARGUMENT unless `n` is an integer in [0, max]. */
export function assertByteCount(n: number, max: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > max) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `${what} must be an integer from 0 to ${max}`);
  }
}

/** @internal The checks every hkdfSha256 implementation runs first. */
export function assertHkdfArguments(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): void {
  assertBytes(ikm, 'HKDF input keying material');
  assertBytes(salt, 'HKDF salt');
  assertBytes(info, 'HKDF info');
  assertByteCount(info.length, HKDF_MAX_INFO_LENGTH, 'HKDF info length');
  assertByteCount(length, HKDF_SHA256_MAX_LENGTH, 'HKDF output length');
}

/** @internal The checks every AES-GCM implementation runs first. */
export function assertAesGcmArguments(key: Uint8Array, iv: Uint8Array, data: Uint8Array, aad: Uint8Array): void {
  assertBytes(key, 'AES-256-GCM key', AES_GCM_KEY_LENGTH);
  assertBytes(iv, 'AES-GCM IV', AES_GCM_IV_LENGTH);
  assertBytes(data, 'AES-GCM input');
  assertBytes(aad, 'AES-GCM associated data');
}

/** @internal The one failure of AES-GCM decryption that callers see. */
export function badMac(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BadMac, 'AES-GCM tag did not verify');
}

/** @internal RFC 7748 §6.1: an all-zero X25519 output means the peer sent a low-order point. */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

/** @internal */
export function lowOrderX25519(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidKey, 'X25519 public key is of low order (RFC 7748 §6.1)');
}

/**
 * noble returns an ML-KEM shared secret as a 32-byte view into the 64-byte G(m || h) output, whose other half it
 * wiped: copy it into a buffer of its own and wipe the original.
 */
function detach(sharedSecret: Uint8Array): Uint8Array {
  const own = sharedSecret.slice();
  sharedSecret.fill(0);
  return own;
}

/**
 * @internal ML-KEM-1024 KeyGen_internal(d, z) from the 64-byte seed d || z (FIPS 203 §6.1). Shared by both
 * providers.
 */
export function mlkem1024KeyPairFromSeed(seed: Uint8Array): KeyPair {
  assertBytes(seed, 'ML-KEM seed', MLKEM_SEED_LENGTH);
  const { publicKey, secretKey } = ml_kem1024.keygen(seed);
  return { publicKey, privateKey: secretKey };
}

/**
 * @internal ML-KEM-1024 Encaps_internal(ek, m) (FIPS 203 §6.2) with the input check of §7.2. Shared by both
 * providers; `m` must be 32 fresh random bytes except in known-answer tests.
 */
export function mlkem1024EncapsulateWithRandomness(publicKey: Uint8Array, m: Uint8Array): KemEncapsulation {
  assertKeyLength(publicKey, MLKEM1024_PUBLIC_KEY_LENGTH, 'ML-KEM-1024 encapsulation key');
  assertBytes(m, 'ML-KEM encapsulation randomness', MLKEM_ENCAPS_RANDOMNESS_LENGTH);
  let result: ReturnType<typeof ml_kem1024.encapsulate>;
  try {
    // @noble/post-quantum runs the FIPS 203 §7.2 modulus check (ek == ByteEncode12(ByteDecode12(ek))) and throws
    // when it fails; the length is checked above, so a throw here can only be that check.
    result = ml_kem1024.encapsulate(publicKey, m);
  } catch {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'ML-KEM-1024 encapsulation key failed the modulus check');
  }
  return { ciphertext: result.cipherText, sharedSecret: detach(result.sharedSecret) };
}

/** @internal ML-KEM-1024 Decaps (FIPS 203 §7.3, with its input checks). Shared by both providers. */
export function mlkem1024Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  assertBytes(ciphertext, 'ML-KEM-1024 ciphertext', MLKEM1024_CIPHERTEXT_LENGTH);
  assertKeyLength(secretKey, MLKEM1024_SECRET_KEY_LENGTH, 'ML-KEM-1024 decapsulation key');
  let sharedSecret: Uint8Array;
  try {
    // Lengths are checked above; noble throws only for the §7.3 hash check H(ek) == h on the decapsulation key.
    // A ciphertext that does not decrypt is not an error: ML-KEM rejects it implicitly with a pseudorandom secret.
    sharedSecret = ml_kem1024.decapsulate(ciphertext, secretKey);
  } catch {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'ML-KEM-1024 decapsulation key failed its hash check');
  }
  return detach(sharedSecret);
}

/** WebCrypto accepts only ArrayBuffer-backed views; copy the rare other one (e.g. over a SharedArrayBuffer). */
function source(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/**
 * RFC 8032 §5.1.7 allows either the cofactored check [8][S]B = [8]R + [8][k]A' or the cofactorless [S]B = R + [k]A'.
 * OpenSSL (NodeCryptoProvider) uses the cofactorless one; noble the cofactored one. They differ only on signatures
 * crafted under a key with a torsion component, where noble accepts what OpenSSL rejects. We require both, so the two
 * providers give the same answer; being an extra conjunct, this check can only make verification stricter.
 */
function ed25519CofactorlessEquationHolds(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const { Point } = ed25519;
  const r = signature.subarray(0, 32);
  const a = Point.fromBytes(publicKey, false);
  const s = bytesToNumberLE(signature.subarray(32));
  const k = Point.Fn.create(bytesToNumberLE(sha512.create().update(r).update(publicKey).update(message).digest()));
  return equalBytes(Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k)).toBytes(), r);
}

/**
 * The ML-KEM-1024 half of both providers: @noble/post-quantum, since neither WebCrypto nor node:crypto on Node 20
 * offers ML-KEM. Only the randomness source differs between providers.
 */
export abstract class NobleMlKem1024 {
  abstract randomBytes(length: number): Uint8Array;

  async mlkem1024GenerateKeyPair(seed?: Uint8Array): Promise<KeyPair> {
    if (seed !== undefined) return mlkem1024KeyPairFromSeed(seed);
    const fresh = this.randomBytes(MLKEM_SEED_LENGTH);
    try {
      return mlkem1024KeyPairFromSeed(fresh);
    } finally {
      fresh.fill(0);
    }
  }

  async mlkem1024Encapsulate(publicKey: Uint8Array): Promise<KemEncapsulation> {
    const m = this.randomBytes(MLKEM_ENCAPS_RANDOMNESS_LENGTH);
    try {
      return mlkem1024EncapsulateWithRandomness(publicKey, m);
    } finally {
      m.fill(0);
    }
  }

  /**
   * @internal Known-answer tests only: ML-KEM.Encaps_internal(ek, m) through the same checks as
   * mlkem1024Encapsulate. Never call it with anything but 32 fresh random bytes outside tests.
   */
  async mlkem1024EncapsulateWithRandomness(publicKey: Uint8Array, m: Uint8Array): Promise<KemEncapsulation> {
    return mlkem1024EncapsulateWithRandomness(publicKey, m);
  }

  async mlkem1024Decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
    return mlkem1024Decapsulate(ciphertext, secretKey);
  }
}

export class WebCryptoProvider extends NobleMlKem1024 implements CryptoProvider {
  readonly name = 'web';
  private readonly subtle: SubtleCrypto;

  constructor() {
    super();
    const subtle = globalThis.crypto?.subtle;
    // Browsers expose crypto.subtle only in secure contexts (https, localhost).
    if (subtle === undefined) throw new Error('WebCryptoProvider needs crypto.subtle (a secure context)');
    this.subtle = subtle;
  }

  randomBytes(length: number): Uint8Array {
    assertByteCount(length, Number.MAX_SAFE_INTEGER, 'random byte count');
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += MAX_RANDOM_VALUES_BYTES) {
      globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + MAX_RANDOM_VALUES_BYTES)));
    }
    return out;
  }

  async sha256(data: Uint8Array): Promise<Uint8Array> {
    assertBytes(data, 'SHA-256 input');
    return new Uint8Array(await this.subtle.digest('SHA-256', source(data)));
  }

  async sha512(data: Uint8Array): Promise<Uint8Array> {
    assertBytes(data, 'SHA-512 input');
    return new Uint8Array(await this.subtle.digest('SHA-512', source(data)));
  }

  async hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    assertBytes(key, 'HMAC key');
    assertBytes(data, 'HMAC input');
    // WebCrypto refuses zero-length HMAC keys; the zero block is the same key after RFC 2104 padding.
    const raw = key.length === 0 ? HMAC_SHA256_ZERO_BLOCK : source(key);
    const hmacKey = await this.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await this.subtle.sign('HMAC', hmacKey, source(data)));
  }

  async hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
    assertHkdfArguments(ikm, salt, info, length);
    // WebCrypto §30 rejects a zero length; RFC 5869 does not, and Node returns an empty result.
    if (length === 0) return new Uint8Array(0);
    const key = await this.subtle.importKey('raw', source(ikm), 'HKDF', false, ['deriveBits']);
    // RFC 5869 §2.2: an empty salt means HashLen zero bytes, which is what WebCrypto does with it.
    const params = { name: 'HKDF', hash: 'SHA-256', salt: source(salt), info: source(info) };
    return new Uint8Array(await this.subtle.deriveBits(params, key, length * 8));
  }

  async aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    assertAesGcmArguments(key, iv, plaintext, aad);
    const aesKey = await this.subtle.importKey('raw', source(key), 'AES-GCM', false, ['encrypt']);
    const params = { name: 'AES-GCM', iv: source(iv), additionalData: source(aad), tagLength: AES_GCM_TAG_LENGTH * 8 };
    return new Uint8Array(await this.subtle.encrypt(params, aesKey, source(plaintext)));
  }

  async aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    assertAesGcmArguments(key, iv, ciphertext, aad);
    if (ciphertext.length < AES_GCM_TAG_LENGTH) throw badMac();
    const aesKey = await this.subtle.importKey('raw', source(key), 'AES-GCM', false, ['decrypt']);
    const params = { name: 'AES-GCM', iv: source(iv), additionalData: source(aad), tagLength: AES_GCM_TAG_LENGTH * 8 };
    let plaintext: ArrayBuffer;
    try {
      plaintext = await this.subtle.decrypt(params, aesKey, source(ciphertext));
    } catch {
      // WebCrypto reports a tag mismatch as an OperationError; the arguments were checked above.
      throw badMac();
    }
    return new Uint8Array(plaintext);
  }

  async x25519GenerateKeyPair(): Promise<KeyPair> {
    const privateKey = this.randomBytes(X25519_KEY_LENGTH);
    return { publicKey: x25519.getPublicKey(privateKey), privateKey };
  }

  async x25519(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> {
    assertKeyLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
    assertKeyLength(publicKey, X25519_KEY_LENGTH, 'X25519 public key');
    let shared: Uint8Array;
    try {
      // noble rejects the low-order u-coordinates before its ladder; lengths are checked above, so that is the only
      // way it throws.
      shared = x25519.getSharedSecret(privateKey, publicKey);
    } catch {
      throw lowOrderX25519();
    }
    if (isAllZero(shared)) throw lowOrderX25519();
    return shared;
  }

  async x25519Many(privateKey: Uint8Array, publicKeys: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const publicKey of publicKeys) out.push(await this.x25519(privateKey, publicKey));
    return out;
  }

  async x25519GenerateAndAgree(publicKeys: readonly Uint8Array[]): Promise<{ keyPair: KeyPair; shared: Uint8Array[] }> {
    const keyPair = await this.x25519GenerateKeyPair();
    return { keyPair, shared: await this.x25519Many(keyPair.privateKey, publicKeys) };
  }

  async ed25519GenerateKeyPair(): Promise<KeyPair> {
    const privateKey = this.randomBytes(ED25519_PRIVATE_KEY_LENGTH);
    return { publicKey: ed25519.getPublicKey(privateKey), privateKey };
  }

  async ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
    assertKeyLength(privateKey, ED25519_PRIVATE_KEY_LENGTH, 'Ed25519 private key');
    assertBytes(message, 'Ed25519 message');
    return ed25519.sign(message, privateKey);
  }

  async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
    if (!(message instanceof Uint8Array)) return false;
    try {
      // zip215: false is RFC 8032 strict decoding (noble's default is the permissive ZIP-215, which accepts e.g. a
      // non-canonical R); it also rejects small-order public keys, which NodeCryptoProvider rejects explicitly.
      return (
        ed25519.verify(signature, message, publicKey, { zip215: false }) &&
        ed25519CofactorlessEquationHolds(publicKey, message, signature)
      );
    } catch {
      return false;
    }
  }
}
