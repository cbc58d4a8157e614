/**
 * X-Wing (draft-connolly-cfrg-xwing-kem-06 §5.2–5.4: key expansion, encapsulation, decapsulation, the SHA3-256
 * combiner) as an @hpke/core KEM whose X25519 runs on the caller's CryptoProvider, with ML-KEM-768 (FIPS 203),
 * SHAKE256 and SHA3-256 from @noble. It computes exactly what @hpke/hybridkem-x-wing computes (same keys,
 * encapsulations and shared secrets; test/sealed-sender/x-wing-kem.test.ts checks both directions on both providers);
 * it exists because that package's X25519 is pure JavaScript — on Node, three of them made a seal and an unseal cost
 * ~16 ms, where node:crypto's native X25519 brings the pair to a few (docs/benchmarks.md "Sealed sender").
 *
 * The decapsulation key (ML-KEM-768 key generation from the 64-byte seed, the X25519 public key) is expanded once per
 * private-key object and kept beside it, as an account keeps one sealed-sender key for its lifetime.
 */
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { sha3_256, shake256 } from '@noble/hashes/sha3.js';
import type { KemInterface, RecipientContextParams, SenderContextParams } from '@hpke/core';
import { concatBytes } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';

/** HPKE KEM id of X-Wing (draft-connolly-cfrg-xwing-kem §6). */
const XWING_KEM_ID = 0x647a;
/** "\./" || "/^\" (§5.3). */
const XWING_LABEL = Uint8Array.from([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
const X25519_BASE = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 9 : 0));
const MLKEM_PUBLIC = 1184;
const MLKEM_CIPHERTEXT = 1088;
const PUBLIC_LENGTH = MLKEM_PUBLIC + 32;
const PRIVATE_LENGTH = 32;
const ENC_LENGTH = MLKEM_CIPHERTEXT + 32;

interface Expanded {
  readonly decapsulationKey: Uint8Array;
  readonly pkM: Uint8Array;
  readonly skX: Uint8Array;
  readonly pkX: Uint8Array;
}

/** A raw X-Wing key in the CryptoKey shape @hpke/core passes through to the KEM. */
class XWingKey {
  readonly algorithm = { name: 'X-Wing' };
  readonly extractable = true;
  expanded: Expanded | undefined;
  constructor(
    readonly type: 'public' | 'private',
    readonly key: Uint8Array,
    readonly usages: KeyUsage[] = type === 'private' ? ['deriveBits'] : [],
  ) {}
}

function rawOf(key: ArrayBufferLike | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(key) ? new Uint8Array(key.buffer, key.byteOffset, key.byteLength) : new Uint8Array(key);
}

function keyOf(key: CryptoKey | CryptoKeyPair, type: 'public' | 'private'): XWingKey {
  const candidate = 'privateKey' in key ? (type === 'private' ? key.privateKey : key.publicKey) : key;
  if (!(candidate instanceof XWingKey) || candidate.type !== type) throw new Error(`not an X-Wing ${type} key`);
  return candidate;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

function combiner(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Uint8Array {
  return sha3_256(concatBytes(ssM, ssX, ctX, pkX, XWING_LABEL));
}

export class ProviderXWing implements KemInterface {
  readonly id = XWING_KEM_ID;
  readonly secretSize = 32;
  readonly encSize = ENC_LENGTH;
  readonly publicKeySize = PUBLIC_LENGTH;
  readonly privateKeySize = PRIVATE_LENGTH;
  /** The private keys this KEM has deserialized, by the caller's byte array, so that each is expanded once. */
  private readonly privateKeys = new WeakMap<Uint8Array, XWingKey>();

  constructor(private readonly crypto: CryptoProvider) {}

  /** §5.2 expandDecapsulationKey. */
  private async expand(key: XWingKey): Promise<Expanded> {
    if (key.expanded) return key.expanded;
    const expanded = shake256(key.key, { dkLen: 96 });
    const skX = expanded.slice(64, 96);
    const mlkem = ml_kem768.keygen(expanded.subarray(0, 64));
    key.expanded = {
      decapsulationKey: mlkem.secretKey,
      pkM: mlkem.publicKey,
      skX,
      pkX: await this.crypto.x25519(skX, X25519_BASE),
    };
    return key.expanded;
  }

  async serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    return toArrayBuffer(keyOf(key, 'public').key);
  }

  async deserializePublicKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    const raw = rawOf(key);
    if (raw.length !== PUBLIC_LENGTH) throw new Error('X-Wing public key must be 1,216 bytes');
    return new XWingKey('public', raw.slice()) as unknown as CryptoKey;
  }

  async serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    return toArrayBuffer(keyOf(key, 'private').key);
  }

  async deserializePrivateKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    const known = key instanceof Uint8Array ? this.privateKeys.get(key) : undefined;
    if (known) return known as unknown as CryptoKey;
    const raw = rawOf(key);
    if (raw.length !== PRIVATE_LENGTH) throw new Error('X-Wing private key must be 32 bytes');
    const out = new XWingKey('private', raw.slice());
    if (key instanceof Uint8Array) this.privateKeys.set(key, out);
    return out as unknown as CryptoKey;
  }

  async importKey(format: 'raw' | 'jwk', key: ArrayBuffer | JsonWebKey, isPublic = true): Promise<CryptoKey> {
    if (format !== 'raw' || !(key instanceof ArrayBuffer || ArrayBuffer.isView(key))) throw new Error('X-Wing keys are imported raw');
    return isPublic ? this.deserializePublicKey(key) : this.deserializePrivateKey(key);
  }

  async generateKeyPair(): Promise<CryptoKeyPair> {
    return this.pairOf(this.crypto.randomBytes(PRIVATE_LENGTH));
  }

  /** §5.2 with the private key SHAKE256(ikm, 32), as @hpke/hybridkem-x-wing derives it. */
  async deriveKeyPair(ikm: ArrayBufferLike | ArrayBufferView): Promise<CryptoKeyPair> {
    return this.pairOf(shake256(rawOf(ikm), { dkLen: 32 }));
  }

  private async pairOf(sk: Uint8Array): Promise<CryptoKeyPair> {
    const privateKey = new XWingKey('private', sk);
    const { pkM, pkX } = await this.expand(privateKey);
    const publicKey = new XWingKey('public', concatBytes(pkM, pkX));
    return { privateKey: privateKey as unknown as CryptoKey, publicKey: publicKey as unknown as CryptoKey };
  }

  /** §5.3 Encapsulate. */
  async encap(params: SenderContextParams): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    if (params.ekm !== undefined) throw new Error('X-Wing: derandomized encapsulation is not offered');
    const pk = keyOf(params.recipientPublicKey, 'public').key;
    const pkM = pk.subarray(0, MLKEM_PUBLIC);
    const pkX = pk.subarray(MLKEM_PUBLIC);
    const { keyPair: ephemeral, shared: [ssX] } = await this.crypto.x25519GenerateAndAgree([pkX]);
    const { cipherText: ctM, sharedSecret: ssM } = ml_kem768.encapsulate(pkM);
    return { sharedSecret: toArrayBuffer(combiner(ssM, ssX!, ephemeral.publicKey, pkX)), enc: toArrayBuffer(concatBytes(ctM, ephemeral.publicKey)) };
  }

  /** §5.4 Decapsulate. */
  async decap(params: RecipientContextParams): Promise<ArrayBuffer> {
    const enc = rawOf(params.enc);
    if (enc.length !== ENC_LENGTH) throw new Error('X-Wing ciphertext must be 1,120 bytes');
    const { decapsulationKey, skX, pkX } = await this.expand(keyOf(params.recipientKey, 'private'));
    const ctM = enc.subarray(0, MLKEM_CIPHERTEXT);
    const ctX = enc.subarray(MLKEM_CIPHERTEXT);
    const ssM = ml_kem768.decapsulate(ctM, decapsulationKey);
    const ssX = await this.crypto.x25519(skX, ctX);
    return toArrayBuffer(combiner(ssM, ssX, ctX, pkX));
  }
}
