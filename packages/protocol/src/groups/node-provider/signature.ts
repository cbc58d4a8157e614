/**
 * The cipher suites' signature schemes (RFC 9420 §5.1.2): Ed25519 and Ed448 (node:crypto), ECDSA over P-256, P-384
 * and P-521 (node:crypto, DER-encoded as RFC 9420 and the default provider use them), and ML-DSA-87
 * (@noble/post-quantum). Key serializations as ts-mls's default provider's.
 */
import { ECDH, createECDH, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import type { Signature, SignatureAlgorithm } from 'ts-mls';
import { CryptoError } from '../ts-mls-internals.js';
import { base64url, bytesEqual, plain, randomBytes } from './bytes.js';
import { P256, P384, P521, checkNistScalar, nistPublicOf, padScalar } from './nist-curves.js';
import type { NistCurve } from './nist-curves.js';
import { importOkpPrivate, importOkpPublic, okpPublicOf } from './okp.js';

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

export function makeSignature(algorithm: SignatureAlgorithm): Signature {
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
