/**
 * HKDF (RFC 5869) extract and expand on node:crypto's HMAC — the cipher suite's KDF (ts-mls's `Kdf`) — and HPKE's
 * LabeledExtract / LabeledExpand over it (RFC 9180 §4), which the KEMs and HPKE use.
 */
import { createHmac } from 'node:crypto';
import type { Kdf, KdfAlgorithm } from 'ts-mls';
import { concatBytes } from '../../crypto/bytes.js';
import { CryptoError } from '../ts-mls-internals.js';
import { EMPTY, encoder, i2osp, plain } from './bytes.js';
import { HASH_LENGTH, hmac } from './hash.js';
import type { NodeHash } from './hash.js';

export function hkdfExtract(hash: NodeHash, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // RFC 5869 §2.2: an absent salt is HashLen zeros, which HMAC's key padding makes equal to an empty key.
  return hmac(hash, salt, ikm);
}

export function hkdfExpand(hash: NodeHash, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
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

export const KDF_HASH: Record<KdfAlgorithm, NodeHash> = {
  'HKDF-SHA256': 'sha256',
  'HKDF-SHA384': 'sha384',
  'HKDF-SHA512': 'sha512',
};
export const KDF_ID: Record<KdfAlgorithm, number> = { 'HKDF-SHA256': 0x0001, 'HKDF-SHA384': 0x0002, 'HKDF-SHA512': 0x0003 };

export function makeKdf(algorithm: KdfAlgorithm): Kdf {
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

const HPKE_V1 = encoder.encode('HPKE-v1');

/** RFC 9180 §4: LabeledExtract(salt, label, ikm). */
export function labeledExtract(hash: NodeHash, suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array) {
  return hkdfExtract(hash, salt, concatBytes(HPKE_V1, suiteId, encoder.encode(label), ikm));
}

/** RFC 9180 §4: LabeledExpand(prk, label, info, L). */
export function labeledExpand(
  hash: NodeHash,
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
) {
  return hkdfExpand(hash, prk, concatBytes(i2osp(length, 2), HPKE_V1, suiteId, encoder.encode(label), info), length);
}
