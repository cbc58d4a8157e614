/**
 * The NIST curves P-256, P-384 and P-521 (RFC 9180 §7.1, SEC 1) as the DHKEMs and ECDSA use them: raw big-endian
 * scalars of Nsk bytes as private keys, uncompressed points as public keys, on node's ECDH class.
 */
import { createECDH } from 'node:crypto';
import { concatBytes } from '../../crypto/bytes.js';
import { CryptoError } from '../ts-mls-internals.js';
import { plain } from './bytes.js';
import type { NodeHash } from './hash.js';

export interface NistCurve {
  readonly id: number;
  readonly name: 'prime256v1' | 'secp384r1' | 'secp521r1';
  readonly hash: NodeHash;
  readonly nSk: number;
  readonly nPk: number;
  readonly order: bigint;
  readonly bitmask: number;
}

export const P256: NistCurve = {
  id: 0x0010,
  name: 'prime256v1',
  hash: 'sha256',
  nSk: 32,
  nPk: 65,
  order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  bitmask: 0xff,
};
export const P384: NistCurve = {
  id: 0x0011,
  name: 'secp384r1',
  hash: 'sha384',
  nSk: 48,
  nPk: 97,
  order:
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  bitmask: 0xff,
};
export const P521: NistCurve = {
  id: 0x0012,
  name: 'secp521r1',
  hash: 'sha512',
  nSk: 66,
  nPk: 133,
  order:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  bitmask: 0x01,
};

export function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

/** Left-pads a big-endian scalar to the curve's Nsk (node and some encoders drop leading zero bytes). */
export function padScalar(curve: NistCurve, sk: Uint8Array): Uint8Array {
  if (sk.length === curve.nSk) return sk;
  if (sk.length > curve.nSk) throw new CryptoError('EC private key too long');
  return concatBytes(new Uint8Array(curve.nSk - sk.length), sk);
}

export function nistPublicOf(curve: NistCurve, sk: Uint8Array): Uint8Array {
  const ecdh = createECDH(curve.name);
  ecdh.setPrivateKey(sk);
  return plain(ecdh.getPublicKey());
}

export function checkNistScalar(curve: NistCurve, sk: Uint8Array): Uint8Array {
  const padded = padScalar(curve, sk);
  const value = toBigInt(padded);
  if (value === 0n || value >= curve.order) throw new CryptoError('EC private key out of range');
  return padded;
}
