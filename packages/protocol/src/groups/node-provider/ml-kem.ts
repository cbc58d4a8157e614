/**
 * ML-KEM-512, -768 and -1024 (FIPS 203) as HPKE KEMs, on @noble/post-quantum (node:crypto on Node 20 has none), with
 * the key serialization of @hpke/ml-kem 0.3.0 (ts-mls's default provider).
 */
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { CryptoError } from '../ts-mls-internals.js';
import { randomBytes } from './bytes.js';
import type { Kem } from './kem.js';

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

export const makeMlKem512 = (): Kem => makeMlKem(0x0040, ml_kem512, 800);
export const makeMlKem768 = (): Kem => makeMlKem(0x0041, ml_kem768, 1184);
export const makeMlKem1024 = (): Kem => makeMlKem(0x0042, ml_kem1024, 1568);
