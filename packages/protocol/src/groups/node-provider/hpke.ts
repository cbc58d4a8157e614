/**
 * HPKE (RFC 9180 §5) in base mode, single shot and secret export (§5.3), over one KEM (./kem.ts), HKDF (./kdf.ts) and
 * one AEAD (./aead.ts): what ts-mls seals a Welcome's group secrets (RFC 9420 §12.4.3.1) and the UpdatePath's path
 * secrets (§7.6) with. ts-mls also uses its AEAD directly (encryptAead / decryptAead).
 */
import type { AeadAlgorithm, Hpke, KdfAlgorithm, PrivateKey, PublicKey } from 'ts-mls';
import { concatBytes } from '../../crypto/bytes.js';
import { CryptoError } from '../ts-mls-internals.js';
import { AEADS, AEAD_NONCE_LENGTH, aeadOpen, aeadSeal } from './aead.js';
import { EMPTY, encoder, i2osp } from './bytes.js';
import { HASH_LENGTH } from './hash.js';
import type { Kem, KemKeyPair } from './kem.js';
import { KDF_HASH, KDF_ID, labeledExpand, labeledExtract } from './kdf.js';

/**
 * ts-mls types HPKE keys as WebCrypto CryptoKeys but only hands them back to the same Hpke object; ours carry the
 * raw serialization (and, for private keys, the public key, so export and decap need no recomputation).
 */
class RawHpkeKey {
  readonly extractable = true;
  readonly usages: KeyUsage[] = [];
  constructor(
    readonly type: 'public' | 'private',
    readonly algorithm: { readonly name: string },
    readonly bytes: Uint8Array,
    private publicBytes: Uint8Array | undefined,
    private readonly kem: Kem,
  ) {}

  publicKey(): Uint8Array {
    if (this.publicBytes === undefined) this.publicBytes = this.kem.publicKeyOf(this.bytes);
    return this.publicBytes;
  }
}

function rawKey(key: PublicKey | PrivateKey, type: 'public' | 'private', kem: Kem): RawHpkeKey {
  if (!(key instanceof RawHpkeKey) || key.type !== type || key.algorithm.name !== `kem-${kem.id}`) {
    throw new CryptoError(`not a ${type} key of this provider and KEM`);
  }
  return key;
}

const MODE_BASE = 0x00;
/** Infos at least this long (a Welcome's encrypted GroupInfo) have their hash remembered; see infoHashOf. */
const INFO_HASH_CACHE_MIN = 4096;

/** HPKE for one cipher suite: `kem` (the suite's KEM, made once per algorithm) with its KDF and AEAD. */
export function makeHpke(kem: Kem, kdfAlgorithm: KdfAlgorithm, aeadAlgorithm: AeadAlgorithm): Hpke {
  const hash = KDF_HASH[kdfAlgorithm];
  const nh = HASH_LENGTH[hash];
  const aead = AEADS[aeadAlgorithm];
  const suiteId = concatBytes(encoder.encode('HPKE'), i2osp(kem.id, 2), i2osp(KDF_ID[kdfAlgorithm], 2), i2osp(aead.id, 2));
  const algorithm = { name: `kem-${kem.id}` };

  const publicKeyObject = (bytes: Uint8Array) => new RawHpkeKey('public', algorithm, bytes, bytes, kem);
  const privateKeyObject = (bytes: Uint8Array, publicKey?: Uint8Array) =>
    new RawHpkeKey('private', algorithm, bytes, publicKey, kem);
  const keyPair = (pair: KemKeyPair) => ({
    privateKey: privateKeyObject(pair.privateKey, pair.publicKey) as unknown as PrivateKey,
    publicKey: publicKeyObject(pair.publicKey) as unknown as PublicKey,
  });

  const pskIdHash = labeledExtract(hash, suiteId, EMPTY, 'psk_id_hash', EMPTY);
  /**
   * A Welcome seals its group secrets to every new member with the same `info` (RFC 9420 §12.4.3.1: the context is
   * the encrypted GroupInfo, which carries the whole ratchet tree — megabytes in a large group). Hashing it once per
   * member made a batch add quadratic; remembering the last large info's hash (reused only after a byte-for-byte
   * comparison, far cheaper than the hash) makes it linear.
   */
  let lastInfo: { bytes: Uint8Array; hash: Uint8Array } | undefined;
  const infoHashOf = (info: Uint8Array) => {
    if (info.length < INFO_HASH_CACHE_MIN) return labeledExtract(hash, suiteId, EMPTY, 'info_hash', info);
    if (lastInfo !== undefined && Buffer.from(lastInfo.bytes.buffer).equals(info)) return lastInfo.hash;
    const infoHash = labeledExtract(hash, suiteId, EMPTY, 'info_hash', info);
    lastInfo = { bytes: Uint8Array.from(info), hash: infoHash };
    return infoHash;
  };

  /** RFC 9180 §5.1 KeySchedule for mode_base (no PSK). */
  const keySchedule = (sharedSecret: Uint8Array, info: Uint8Array) => {
    const infoHash = infoHashOf(info);
    const context = concatBytes(Uint8Array.of(MODE_BASE), pskIdHash, infoHash);
    const secret = labeledExtract(hash, suiteId, sharedSecret, 'secret', EMPTY);
    return {
      key: labeledExpand(hash, suiteId, secret, 'key', context, aead.keyLength),
      // Single-shot: sequence number 0, so the nonce is base_nonce itself (§5.2).
      nonce: labeledExpand(hash, suiteId, secret, 'base_nonce', context, AEAD_NONCE_LENGTH),
      exporterSecret: labeledExpand(hash, suiteId, secret, 'exp', context, nh),
    };
  };
  const exportFrom = (exporterSecret: Uint8Array, exporterContext: Uint8Array, length: number) =>
    labeledExpand(hash, suiteId, exporterSecret, 'sec', exporterContext, length);

  const decap = (key: PrivateKey, enc: Uint8Array) => {
    const recipient = rawKey(key, 'private', kem);
    return kem.decap(enc, recipient.bytes, recipient.publicKey());
  };

  return {
    async open(privateKey, kemOutput, ciphertext, info, aad) {
      const { key, nonce } = keySchedule(decap(privateKey, kemOutput), info);
      return aeadOpen(aead, key, nonce, aad ?? EMPTY, ciphertext);
    },
    async seal(publicKey, plaintext, info, aad) {
      const { sharedSecret, enc } = kem.encap(rawKey(publicKey, 'public', kem).bytes);
      const { key, nonce } = keySchedule(sharedSecret, info);
      return { ct: aeadSeal(aead, key, nonce, aad ?? EMPTY, plaintext), enc };
    },
    async importPrivateKey(bytes) {
      // ts-mls and the MLS vectors may hand a P-521 scalar without its leading zero byte (mls-implementations #176).
      return privateKeyObject(kem.checkPrivateKey(Uint8Array.from(bytes))) as unknown as PrivateKey;
    },
    async importPublicKey(bytes) {
      kem.checkPublicKey(bytes);
      return publicKeyObject(Uint8Array.from(bytes)) as unknown as PublicKey;
    },
    async exportPublicKey(key) {
      return rawKey(key, 'public', kem).bytes;
    },
    async exportPrivateKey(key) {
      return rawKey(key, 'private', kem).bytes;
    },
    async encryptAead(key, nonce, aad, plaintext) {
      return aeadSeal(aead, key, nonce, aad ?? EMPTY, plaintext);
    },
    async decryptAead(key, nonce, aad, ciphertext) {
      return aeadOpen(aead, key, nonce, aad ?? EMPTY, ciphertext);
    },
    async exportSecret(publicKey, exporterContext, length, info) {
      const { sharedSecret, enc } = kem.encap(rawKey(publicKey, 'public', kem).bytes);
      const { exporterSecret } = keySchedule(sharedSecret, info);
      return { enc, secret: exportFrom(exporterSecret, exporterContext, length) };
    },
    async importSecret(privateKey, exporterContext, kemOutput, length, info) {
      const { exporterSecret } = keySchedule(decap(privateKey, kemOutput), info);
      return exportFrom(exporterSecret, exporterContext, length);
    },
    async deriveKeyPair(ikm) {
      return keyPair(kem.deriveKeyPair(ikm));
    },
    async generateKeyPair() {
      return keyPair(kem.generateKeyPair());
    },
    keyLength: aead.keyLength,
    nonceLength: AEAD_NONCE_LENGTH,
  };
}
