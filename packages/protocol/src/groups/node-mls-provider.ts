/**
 * A ts-mls CryptoProvider on node:crypto (OpenSSL), so that MLS group operations in Node are not bound by the
 * default provider's async WebCrypto calls and pure-JS curve arithmetic (docs/dependencies.md, "ts-mls 1.6.4").
 *
 * - Hash, HMAC and the KDF (RFC 5869 HKDF extract / expand) are synchronous node:crypto calls.
 * - HPKE (RFC 9180, base mode, single shot + exporter) is implemented here in full, on DHKEM over X25519 / X448
 *   (KeyObjects) and P-256 / P-384 / P-521 (node's ECDH class), ML-KEM-512/768/1024 (FIPS 203, @noble/post-quantum:
 *   node:crypto on Node 20 has none) and X-Wing (draft-connolly-cfrg-xwing-kem, as @hpke/hybridkem-x-wing 0.7.0
 *   implements it: ML-KEM-768 from @noble, X25519, SHAKE256 and SHA3-256 from node:crypto).
 * - AEADs: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305.
 * - Signatures: Ed25519, Ed448, ECDSA P-256/384/521 (DER, as RFC 9420 §5.1.2 and the default provider), ML-DSA-87
 *   (@noble/post-quantum).
 *
 * Every serialization (private and public keys, KEM outputs) is byte-identical to ts-mls's default provider, so a
 * group state written by one provider is read by the other and members on different providers interoperate
 * (test/groups/node-mls-provider.test.ts cross-checks them; the official MLS interop vectors pass through this one).
 *
 * Node only: the browser keeps ts-mls's default provider. Exported from `@samizdat/protocol/groups-node`.
 */
import {
  ECDH,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomFillSync,
  sign as nodeSign,
  timingSafeEqual,
  verify as nodeVerify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import type {
  AeadAlgorithm,
  Ciphersuite,
  CiphersuiteImpl,
  CryptoProvider,
  Hash,
  HashAlgorithm,
  Hpke,
  Kdf,
  KdfAlgorithm,
  KemAlgorithm,
  PrivateKey,
  PublicKey,
  Rng,
  Signature,
  SignatureAlgorithm,
} from 'ts-mls';
import { CryptoError } from 'ts-mls/mlsError.js';
import { concatBytes } from '../crypto/bytes.js';

type NodeHash = 'sha256' | 'sha384' | 'sha512';

const NODE_HASH: Record<HashAlgorithm, NodeHash> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
const HASH_LENGTH: Record<NodeHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------------------------
// Bytes helpers

/** node:crypto returns Buffers; ts-mls compares with toStrictEqual in places, so hand back plain Uint8Arrays. */
function plain(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}



function i2osp(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  randomFillSync(out);
  return out;
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

function fromBase64url(text: string | undefined): Uint8Array {
  if (text === undefined) throw new CryptoError('node:crypto exported an unexpected JWK');
  return plain(Buffer.from(text, 'base64url'));
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------------------------
// Hash, HMAC, HKDF (RFC 5869)

function hmac(hash: NodeHash, key: Uint8Array, data: Uint8Array): Uint8Array {
  return plain(createHmac(hash, key).update(data).digest());
}

function hkdfExtract(hash: NodeHash, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // RFC 5869 §2.2: an absent salt is HashLen zeros, which HMAC's key padding makes equal to an empty key.
  return hmac(hash, salt, ikm);
}

function hkdfExpand(hash: NodeHash, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hashLength = HASH_LENGTH[hash];
  // RFC 5869 §2.3: L <= 255 * HashLen.
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashLength) {
    throw new CryptoError('HKDF-Expand: output length out of range');
  }
  const out = new Uint8Array(length);
  let previous: Uint8Array = EMPTY;
  for (let i = 1, offset = 0; offset < length; i++) {
    previous = plain(createHmac(hash, prk).update(previous).update(info).update(Uint8Array.of(i)).digest());
    out.set(previous.subarray(0, Math.min(previous.length, length - offset)), offset);
    offset += previous.length;
  }
  return out;
}

function makeHash(algorithm: HashAlgorithm): Hash {
  const hash = NODE_HASH[algorithm];
  return {
    async digest(data) {
      return plain(createHash(hash).update(data).digest());
    },
    async mac(key, data) {
      return hmac(hash, key, data);
    },
    async verifyMac(key, mac, data) {
      return bytesEqual(mac, hmac(hash, key, data));
    },
  };
}

const KDF_HASH: Record<KdfAlgorithm, NodeHash> = {
  'HKDF-SHA256': 'sha256',
  'HKDF-SHA384': 'sha384',
  'HKDF-SHA512': 'sha512',
};
const KDF_ID: Record<KdfAlgorithm, number> = { 'HKDF-SHA256': 0x0001, 'HKDF-SHA384': 0x0002, 'HKDF-SHA512': 0x0003 };

function makeKdf(algorithm: KdfAlgorithm): Kdf {
  const hash = KDF_HASH[algorithm];
  return {
    async extract(salt, ikm) {
      return hkdfExtract(hash, salt, ikm);
    },
    async expand(prk, info, length) {
      return hkdfExpand(hash, prk, info, length);
    },
    size: HASH_LENGTH[hash],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// AEAD

interface AeadSpec {
  readonly id: number;
  readonly cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  readonly keyLength: number;
}

const AEADS: Record<AeadAlgorithm, AeadSpec> = {
  AES128GCM: { id: 0x0001, cipher: 'aes-128-gcm', keyLength: 16 },
  AES256GCM: { id: 0x0002, cipher: 'aes-256-gcm', keyLength: 32 },
  CHACHA20POLY1305: { id: 0x0003, cipher: 'chacha20-poly1305', keyLength: 32 },
};
const AEAD_NONCE_LENGTH = 12;
const AEAD_TAG_LENGTH = 16;

function aeadSeal(spec: AeadSpec, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) {
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

function aeadOpen(spec: AeadSpec, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) {
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

// ---------------------------------------------------------------------------------------------------------------
// KEMs (RFC 9180 §4, §7.1; FIPS 203; X-Wing)

interface KemKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

interface Kem {
  readonly id: number;
  readonly privateKeyLength: number;
  readonly publicKeyLength: number;
  generateKeyPair(): KemKeyPair;
  deriveKeyPair(ikm: Uint8Array): KemKeyPair;
  publicKeyOf(privateKey: Uint8Array): Uint8Array;
  /** Normalizes an imported private key (P-521 pre-padding), or throws. */
  checkPrivateKey(privateKey: Uint8Array): Uint8Array;
  checkPublicKey(publicKey: Uint8Array): void;
  encap(publicKey: Uint8Array): { sharedSecret: Uint8Array; enc: Uint8Array };
  decap(enc: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}

type OkpCurve = 'X25519' | 'X448' | 'Ed25519' | 'Ed448';

/**
 * Raw OKP keys become KeyObjects through JWK, the cheapest import on Node 20 (see src/crypto/node-provider.ts: Node
 * derives the public key from `d` and ignores `x`, so a placeholder `x` is passed; checked once below).
 */
function importOkpPrivate(crv: OkpCurve, privateKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv, d: base64url(privateKey), x: 'AA' }, format: 'jwk' });
}

function importOkpPublic(crv: OkpCurve, publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: base64url(publicKey) }, format: 'jwk' });
}

function okpPublicOf(key: KeyObject): Uint8Array {
  return fromBase64url(key.export({ format: 'jwk' }).x);
}

let okpImportChecked = false;
/** Fails closed unless Node builds an OKP private key from `d` alone (RFC 7748 §6.1 Alice's key). */
function checkOkpImport(): void {
  if (okpImportChecked) return;
  const d = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
  const x = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');
  if (!bytesEqual(okpPublicOf(importOkpPrivate('X25519', d)), x)) {
    throw new Error('node-mls-provider: this Node does not derive an OKP public key from a JWK d');
  }
  okpImportChecked = true;
}

function labeledExtract(hash: NodeHash, suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array) {
  return hkdfExtract(hash, salt, concatBytes(HPKE_V1, suiteId, encoder.encode(label), ikm));
}

function labeledExpand(
  hash: NodeHash,
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
) {
  return hkdfExpand(hash, prk, concatBytes(i2osp(length, 2), HPKE_V1, suiteId, encoder.encode(label), info), length);
}

const HPKE_V1 = encoder.encode('HPKE-v1');

/** DHKEM (RFC 9180 §4.1) over a DH function given as raw-bytes callbacks. */
function makeDhKem(spec: {
  id: number;
  hash: NodeHash;
  nSecret: number;
  nSk: number;
  nPk: number;
  generate(): KemKeyPair;
  publicKeyOf(sk: Uint8Array): Uint8Array;
  dh(sk: Uint8Array, pk: Uint8Array): Uint8Array;
  /** RFC 9180 §7.1.3 */
  derive(dkpPrk: Uint8Array, suiteId: Uint8Array): Uint8Array;
  checkPublicKey(pk: Uint8Array): void;
  checkPrivateKey(sk: Uint8Array): Uint8Array;
}): Kem {
  const suiteId = concatBytes(encoder.encode('KEM'), i2osp(spec.id, 2));
  const extractAndExpand = (dh: Uint8Array, kemContext: Uint8Array) => {
    const eaePrk = labeledExtract(spec.hash, suiteId, EMPTY, 'eae_prk', dh);
    return labeledExpand(spec.hash, suiteId, eaePrk, 'shared_secret', kemContext, spec.nSecret);
  };
  return {
    id: spec.id,
    privateKeyLength: spec.nSk,
    publicKeyLength: spec.nPk,
    generateKeyPair: spec.generate,
    deriveKeyPair(ikm) {
      const dkpPrk = labeledExtract(spec.hash, suiteId, EMPTY, 'dkp_prk', ikm);
      const privateKey = spec.derive(dkpPrk, suiteId);
      return { privateKey, publicKey: spec.publicKeyOf(privateKey) };
    },
    publicKeyOf: spec.publicKeyOf,
    checkPrivateKey: spec.checkPrivateKey,
    checkPublicKey: spec.checkPublicKey,
    encap(publicKey) {
      const ephemeral = spec.generate();
      const dh = spec.dh(ephemeral.privateKey, publicKey);
      const enc = ephemeral.publicKey;
      return { sharedSecret: extractAndExpand(dh, concatBytes(enc, publicKey)), enc };
    },
    decap(enc, privateKey, publicKey) {
      const dh = spec.dh(privateKey, enc);
      return extractAndExpand(dh, concatBytes(enc, publicKey));
    },
  };
}

function makeOkpDhKem(curve: 'X25519' | 'X448'): Kem {
  const x25519 = curve === 'X25519';
  const nSk = x25519 ? 32 : 56;
  const hash: NodeHash = x25519 ? 'sha256' : 'sha512';
  const publicKeyOf = (sk: Uint8Array) => okpPublicOf(importOkpPrivate(curve, sk));
  return makeDhKem({
    id: x25519 ? 0x0020 : 0x0021,
    hash,
    nSecret: x25519 ? 32 : 64,
    nSk,
    nPk: nSk,
    generate() {
      const privateKey = randomBytes(nSk);
      return { privateKey, publicKey: publicKeyOf(privateKey) };
    },
    publicKeyOf,
    dh(sk, pk) {
      let shared: Uint8Array;
      try {
        const privateKey = importOkpPrivate(curve, sk);
        shared = plain(diffieHellman({ privateKey, publicKey: importOkpPublic(curve, pk) }));
      } catch {
        throw new CryptoError(`${curve}: invalid public key or all-zero shared secret`);
      }
      // RFC 9180 §7.1.4 / RFC 7748 §6: an all-zero DH output is an error.
      if (isAllZero(shared)) throw new CryptoError(`${curve}: all-zero shared secret`);
      return shared;
    },
    derive(dkpPrk, suiteId) {
      return labeledExpand(hash, suiteId, dkpPrk, 'sk', EMPTY, nSk);
    },
    checkPublicKey(pk) {
      if (pk.length !== nSk) throw new CryptoError(`${curve}: bad public key length`);
    },
    checkPrivateKey(sk) {
      if (sk.length !== nSk) throw new CryptoError(`${curve}: bad private key length`);
      return sk;
    },
  });
}

interface NistCurve {
  readonly id: number;
  readonly name: 'prime256v1' | 'secp384r1' | 'secp521r1';
  readonly hash: NodeHash;
  readonly nSk: number;
  readonly nPk: number;
  readonly order: bigint;
  readonly bitmask: number;
}

const P256: NistCurve = {
  id: 0x0010,
  name: 'prime256v1',
  hash: 'sha256',
  nSk: 32,
  nPk: 65,
  order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  bitmask: 0xff,
};
const P384: NistCurve = {
  id: 0x0011,
  name: 'secp384r1',
  hash: 'sha384',
  nSk: 48,
  nPk: 97,
  order:
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  bitmask: 0xff,
};
const P521: NistCurve = {
  id: 0x0012,
  name: 'secp521r1',
  hash: 'sha512',
  nSk: 66,
  nPk: 133,
  order:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  bitmask: 0x01,
};

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

/** Left-pads a big-endian scalar to the curve's Nsk (node and some encoders drop leading zero bytes). */
function padScalar(curve: NistCurve, sk: Uint8Array): Uint8Array {
  if (sk.length === curve.nSk) return sk;
  if (sk.length > curve.nSk) throw new CryptoError('EC private key too long');
  return concatBytes(new Uint8Array(curve.nSk - sk.length), sk);
}

function nistPublicOf(curve: NistCurve, sk: Uint8Array): Uint8Array {
  const ecdh = createECDH(curve.name);
  ecdh.setPrivateKey(sk);
  return plain(ecdh.getPublicKey());
}

function checkNistScalar(curve: NistCurve, sk: Uint8Array): Uint8Array {
  const padded = padScalar(curve, sk);
  const value = toBigInt(padded);
  if (value === 0n || value >= curve.order) throw new CryptoError('EC private key out of range');
  return padded;
}

function makeNistDhKem(curve: NistCurve): Kem {
  return makeDhKem({
    id: curve.id,
    hash: curve.hash,
    nSecret: HASH_LENGTH[curve.hash],
    nSk: curve.nSk,
    nPk: curve.nPk,
    generate() {
      const ecdh = createECDH(curve.name);
      ecdh.generateKeys();
      return { privateKey: padScalar(curve, plain(ecdh.getPrivateKey())), publicKey: plain(ecdh.getPublicKey()) };
    },
    publicKeyOf: (sk) => nistPublicOf(curve, sk),
    dh(sk, pk) {
      const ecdh = createECDH(curve.name);
      ecdh.setPrivateKey(sk);
      try {
        return plain(ecdh.computeSecret(pk));
      } catch {
        throw new CryptoError('ECDH: invalid public key');
      }
    },
    derive(dkpPrk, suiteId) {
      // RFC 9180 §7.1.3: rejection sampling over candidates.
      for (let counter = 0; counter < 256; counter++) {
        const bytes = labeledExpand(curve.hash, suiteId, dkpPrk, 'candidate', i2osp(counter, 1), curve.nSk);
        bytes[0] = (bytes[0] as number) & curve.bitmask;
        const value = toBigInt(bytes);
        if (value !== 0n && value < curve.order) return bytes;
      }
      throw new CryptoError('DeriveKeyPair: no candidate found');
    },
    checkPublicKey(pk) {
      if (pk.length !== curve.nPk || pk[0] !== 0x04) throw new CryptoError('EC public key must be uncompressed');
    },
    checkPrivateKey: (sk) => checkNistScalar(curve, sk),
  });
}

type MlKem = typeof ml_kem768;

/** ML-KEM as @hpke/ml-kem 0.3.0 uses it in HPKE: the private key is the 64-byte FIPS 203 seed d || z. */
function makeMlKem(id: number, kem: MlKem, publicKeyLength: number): Kem {
  const check = (sk: Uint8Array) => {
    if (sk.length !== 64) throw new CryptoError('ML-KEM private key (seed) must be 64 bytes');
    return sk;
  };
  return {
    id,
    privateKeyLength: 64,
    publicKeyLength,
    generateKeyPair() {
      const privateKey = randomBytes(64);
      return { privateKey, publicKey: kem.keygen(privateKey).publicKey };
    },
    deriveKeyPair(ikm) {
      // @hpke/ml-kem: the IKM is the seed itself.
      const privateKey = check(Uint8Array.from(ikm));
      return { privateKey, publicKey: kem.keygen(privateKey).publicKey };
    },
    publicKeyOf: (sk) => kem.keygen(check(sk)).publicKey,
    checkPrivateKey: check,
    checkPublicKey(pk) {
      if (pk.length !== publicKeyLength) throw new CryptoError('ML-KEM: bad public key length');
    },
    encap(publicKey) {
      const { cipherText, sharedSecret } = kem.encapsulate(publicKey);
      return { sharedSecret, enc: cipherText };
    },
    decap(enc, privateKey) {
      return kem.decapsulate(enc, kem.keygen(check(privateKey)).secretKey);
    },
  };
}

/** X-Wing's label "\./" || "/^\" (draft-connolly-cfrg-xwing-kem §5.3). */
const XWING_LABEL = Uint8Array.from([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
const XWING_MLKEM_PUBLIC = 1184;
const XWING_MLKEM_CIPHERTEXT = 1088;

function xwingExpand(sk: Uint8Array): { seedM: Uint8Array; skX: Uint8Array } {
  const expanded = plain(createHash('shake256', { outputLength: 96 }).update(sk).digest());
  return { seedM: expanded.subarray(0, 64), skX: expanded.subarray(64, 96) };
}

function xwingCombiner(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Uint8Array {
  return plain(createHash('sha3-256').update(concatBytes(ssM, ssX, ctX, pkX, XWING_LABEL)).digest());
}

function makeXWing(): Kem {
  const publicKeyOf = (sk: Uint8Array) => {
    const { seedM, skX } = xwingExpand(sk);
    return concatBytes(ml_kem768.keygen(seedM).publicKey, okpPublicOf(importOkpPrivate('X25519', skX)));
  };
  const check = (sk: Uint8Array) => {
    if (sk.length !== 32) throw new CryptoError('X-Wing private key must be 32 bytes');
    return sk;
  };
  const x25519 = (sk: KeyObject, pk: Uint8Array) => {
    try {
      return plain(diffieHellman({ privateKey: sk, publicKey: importOkpPublic('X25519', pk) }));
    } catch {
      throw new CryptoError('X-Wing: invalid X25519 share');
    }
  };
  return {
    id: 0x647a,
    privateKeyLength: 32,
    publicKeyLength: XWING_MLKEM_PUBLIC + 32,
    generateKeyPair() {
      const privateKey = randomBytes(32);
      return { privateKey, publicKey: publicKeyOf(privateKey) };
    },
    deriveKeyPair(ikm) {
      const privateKey = plain(createHash('shake256', { outputLength: 32 }).update(ikm).digest());
      return { privateKey, publicKey: publicKeyOf(privateKey) };
    },
    publicKeyOf: (sk) => publicKeyOf(check(sk)),
    checkPrivateKey: check,
    checkPublicKey(pk) {
      if (pk.length !== XWING_MLKEM_PUBLIC + 32) throw new CryptoError('X-Wing: bad public key length');
    },
    encap(publicKey) {
      const pkM = publicKey.subarray(0, XWING_MLKEM_PUBLIC);
      const pkX = publicKey.subarray(XWING_MLKEM_PUBLIC);
      const ekX = importOkpPrivate('X25519', randomBytes(32));
      const ctX = okpPublicOf(ekX);
      const ssX = x25519(ekX, pkX);
      const { cipherText: ctM, sharedSecret: ssM } = ml_kem768.encapsulate(pkM);
      return { sharedSecret: xwingCombiner(ssM, ssX, ctX, pkX), enc: concatBytes(ctM, ctX) };
    },
    decap(enc, privateKey) {
      if (enc.length !== XWING_MLKEM_CIPHERTEXT + 32) throw new CryptoError('X-Wing: bad ciphertext length');
      const { seedM, skX } = xwingExpand(check(privateKey));
      const keyX = importOkpPrivate('X25519', skX);
      const pkX = okpPublicOf(keyX);
      const ctM = enc.subarray(0, XWING_MLKEM_CIPHERTEXT);
      const ctX = enc.subarray(XWING_MLKEM_CIPHERTEXT);
      const ssM = ml_kem768.decapsulate(ctM, ml_kem768.keygen(seedM).secretKey);
      return xwingCombiner(ssM, x25519(keyX, ctX), ctX, pkX);
    },
  };
}

const kemCache = new Map<KemAlgorithm, Kem>();

function getKem(algorithm: KemAlgorithm): Kem {
  let kem = kemCache.get(algorithm);
  if (kem === undefined) {
    kem = makeKem(algorithm);
    kemCache.set(algorithm, kem);
  }
  return kem;
}

function makeKem(algorithm: KemAlgorithm): Kem {
  switch (algorithm) {
    case 'DHKEM-X25519-HKDF-SHA256':
      return makeOkpDhKem('X25519');
    case 'DHKEM-X448-HKDF-SHA512':
      return makeOkpDhKem('X448');
    case 'DHKEM-P256-HKDF-SHA256':
      return makeNistDhKem(P256);
    case 'DHKEM-P384-HKDF-SHA384':
      return makeNistDhKem(P384);
    case 'DHKEM-P521-HKDF-SHA512':
      return makeNistDhKem(P521);
    case 'ML-KEM-512':
      return makeMlKem(0x0040, ml_kem512, 800);
    case 'ML-KEM-768':
      return makeMlKem(0x0041, ml_kem768, 1184);
    case 'ML-KEM-1024':
      return makeMlKem(0x0042, ml_kem1024, 1568);
    case 'X-Wing':
      return makeXWing();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HPKE (RFC 9180 §5, base mode)

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

function makeHpke(kemAlgorithm: KemAlgorithm, kdfAlgorithm: KdfAlgorithm, aeadAlgorithm: AeadAlgorithm): Hpke {
  const kem = getKem(kemAlgorithm);
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

// ---------------------------------------------------------------------------------------------------------------
// Signatures

/** PKCS#8 prefix of an Ed25519 private key (RFC 8410): ts-mls's default provider stores its keys this way. */
const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

function ed25519Seed(signKey: Uint8Array): Uint8Array {
  if (signKey.length === 32) return signKey;
  if (signKey.length === 48 && bytesEqual(signKey.subarray(0, 16), ED25519_PKCS8_PREFIX)) return signKey.subarray(16);
  throw new CryptoError('Ed25519 private key must be a 32-byte seed or its PKCS#8 encoding');
}

function makeOkpSignature(curve: 'Ed25519' | 'Ed448'): Signature {
  const seedLength = curve === 'Ed25519' ? 32 : 57;
  const seedOf = (key: Uint8Array) => {
    if (curve === 'Ed25519') return ed25519Seed(key);
    if (key.length !== seedLength) throw new CryptoError('Ed448 private key must be 57 bytes');
    return key;
  };
  return {
    async sign(signKey, message) {
      return plain(nodeSign(null, message, importOkpPrivate(curve, seedOf(signKey))));
    },
    async verify(publicKey, message, signature) {
      try {
        return nodeVerify(null, message, importOkpPublic(curve, publicKey), signature);
      } catch {
        return false;
      }
    },
    async keygen() {
      const signKey = randomBytes(seedLength);
      return { signKey, publicKey: okpPublicOf(importOkpPrivate(curve, signKey)) };
    },
  };
}

const JWK_CURVE: Record<NistCurve['name'], string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

function ecJwkCoordinates(curve: NistCurve, key: Uint8Array): { x: string; y: string } {
  // ts-mls's default provider (@noble) makes compressed ECDSA public keys; accept both SEC1 forms.
  const publicKey =
    key.length === (curve.nPk + 1) / 2 && (key[0] === 0x02 || key[0] === 0x03)
      ? plain(ECDH.convertKey(key, curve.name, undefined, undefined, 'uncompressed') as Buffer)
      : key;
  if (publicKey.length !== curve.nPk || publicKey[0] !== 0x04) throw new CryptoError('EC public key');
  const n = (curve.nPk - 1) / 2;
  return { x: base64url(publicKey.subarray(1, 1 + n)), y: base64url(publicKey.subarray(1 + n)) };
}

/** ECDSA with the curve's hash, DER-encoded signatures (RFC 9420 §5.1.2), raw scalars as private keys. */
function makeEcdsaSignature(curve: NistCurve): Signature {
  const crv = JWK_CURVE[curve.name];
  return {
    async sign(signKey, message) {
      const d = checkNistScalar(curve, signKey);
      const key = createPrivateKey({
        key: { kty: 'EC', crv, d: base64url(d), ...ecJwkCoordinates(curve, nistPublicOf(curve, d)) },
        format: 'jwk',
      });
      return plain(nodeSign(curve.hash, message, { key, dsaEncoding: 'der' }));
    },
    async verify(publicKey, message, signature) {
      try {
        const key = createPublicKey({ key: { kty: 'EC', crv, ...ecJwkCoordinates(curve, publicKey) }, format: 'jwk' });
        return nodeVerify(curve.hash, message, { key, dsaEncoding: 'der' }, signature);
      } catch {
        return false;
      }
    },
    async keygen() {
      const ecdh = createECDH(curve.name);
      ecdh.generateKeys();
      return { signKey: padScalar(curve, plain(ecdh.getPrivateKey())), publicKey: plain(ecdh.getPublicKey()) };
    },
  };
}

const mlDsa87Signature: Signature = {
  async sign(signKey, message) {
    return ml_dsa87.sign(message, signKey);
  },
  async verify(publicKey, message, signature) {
    try {
      return ml_dsa87.verify(signature, message, publicKey);
    } catch {
      return false;
    }
  },
  async keygen() {
    const keys = ml_dsa87.keygen(randomBytes(32));
    return { signKey: keys.secretKey, publicKey: keys.publicKey };
  },
};

function makeSignature(algorithm: SignatureAlgorithm): Signature {
  switch (algorithm) {
    case 'Ed25519':
      return makeOkpSignature('Ed25519');
    case 'Ed448':
      return makeOkpSignature('Ed448');
    case 'P256':
      return makeEcdsaSignature(P256);
    case 'P384':
      return makeEcdsaSignature(P384);
    case 'P521':
      return makeEcdsaSignature(P521);
    case 'ML-DSA-87':
      return mlDsa87Signature;
  }
}

const nodeRng: Rng = { randomBytes };

// ---------------------------------------------------------------------------------------------------------------

/** ts-mls CryptoProvider on node:crypto, for every cipher suite ts-mls 1.6.4 defines. */
export const nodeMlsCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs: Ciphersuite): Promise<CiphersuiteImpl> {
    checkOkpImport();
    return {
      hash: makeHash(cs.hash),
      kdf: makeKdf(cs.hpke.kdf),
      hpke: makeHpke(cs.hpke.kem, cs.hpke.kdf, cs.hpke.aead),
      signature: makeSignature(cs.signature),
      rng: nodeRng,
      name: cs.name,
    };
  },
};
