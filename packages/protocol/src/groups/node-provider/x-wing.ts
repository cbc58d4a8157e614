/**
 * X-Wing (draft-connolly-cfrg-xwing-kem), the hybrid KEM of our cipher suite (ML-KEM-768 + X25519), as
 * @hpke/hybridkem-x-wing 0.7.0 implements it: ML-KEM-768 from @noble, X25519, SHAKE256 and SHA3-256 from node:crypto.
 */
import { createHash, diffieHellman } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { concatBytes } from '../../crypto/bytes.js';
import { CryptoError } from '../ts-mls-internals.js';
import { plain, randomBytes } from './bytes.js';
import type { Kem } from './kem.js';
import { importOkpPrivate, importOkpPublic, okpPublicOf } from './okp.js';

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

export function makeXWing(): Kem {
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
