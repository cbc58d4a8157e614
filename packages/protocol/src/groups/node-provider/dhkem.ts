/**
 * DHKEM (RFC 9180 §4.1) over X25519 and X448 (node:crypto KeyObjects) and P-256, P-384 and P-521 (node's ECDH
 * class), with DeriveKeyPair as §7.1.3 defines it for each and the all-zero output check of §7.1.4.
 */
import { createECDH, diffieHellman } from 'node:crypto';
import { concatBytes } from '../../crypto/bytes.js';
import { CryptoError } from '../ts-mls-internals.js';
import { EMPTY, encoder, i2osp, isAllZero, plain, randomBytes } from './bytes.js';
import { HASH_LENGTH } from './hash.js';
import type { NodeHash } from './hash.js';
import type { Kem, KemKeyPair } from './kem.js';
import { labeledExpand, labeledExtract } from './kdf.js';
import { checkNistScalar, nistPublicOf, padScalar, toBigInt } from './nist-curves.js';
import type { NistCurve } from './nist-curves.js';
import { importOkpPrivate, importOkpPublic, okpPublicOf } from './okp.js';

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

export function makeOkpDhKem(curve: 'X25519' | 'X448'): Kem {
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

export function makeNistDhKem(curve: NistCurve): Kem {
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
