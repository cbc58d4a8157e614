/**
 * The cipher suite's hash and HMAC (RFC 9420 §5.1: ts-mls's `Hash`), as synchronous node:crypto calls.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Hash, HashAlgorithm } from 'ts-mls';
import { bytesEqual, plain } from './bytes.js';

export type NodeHash = 'sha256' | 'sha384' | 'sha512';

export const NODE_HASH: Record<HashAlgorithm, NodeHash> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
export const HASH_LENGTH: Record<NodeHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

export function hmac(hash: NodeHash, key: Uint8Array, data: Uint8Array): Uint8Array {
  return plain(createHmac(hash, key).update(data).digest());
}

export function makeHash(algorithm: HashAlgorithm): Hash {
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
