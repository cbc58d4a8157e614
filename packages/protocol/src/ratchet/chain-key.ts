/**
 * Symmetric-key ratchet of the Double Ratchet (§2.2, §5.2): KDF_CK(ck) uses HMAC-SHA256 with ck as the key,
 * input 0x01 for the message key and 0x02 for the next chain key. A message key is expanded with HKDF (§5.2
 * recommends HKDF over the message key) into an AES-256-GCM key and a 12-byte nonce; each message key encrypts
 * exactly one message, so a derived (not random) nonce is safe.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { AES_GCM_IV_LENGTH, AES_GCM_KEY_LENGTH } from '../crypto/provider.js';
import { utf8 } from '../crypto/bytes.js';

const MESSAGE_KEY_SEED = new Uint8Array([0x01]);
const CHAIN_KEY_SEED = new Uint8Array([0x02]);
export const MESSAGE_KEYS_INFO = utf8('Samizdat_DoubleRatchet_MessageKeys');
const ZERO_SALT = new Uint8Array(32);

export async function kdfChainKey(
  provider: CryptoProvider,
  chainKey: Uint8Array,
): Promise<{ chainKey: Uint8Array; messageKey: Uint8Array }> {
  const [messageKey, next] = await Promise.all([
    provider.hmacSha256(chainKey, MESSAGE_KEY_SEED),
    provider.hmacSha256(chainKey, CHAIN_KEY_SEED),
  ]);
  return { chainKey: next, messageKey };
}

export interface MessageKeys {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}

export async function expandMessageKey(provider: CryptoProvider, messageKey: Uint8Array): Promise<MessageKeys> {
  const out = await provider.hkdfSha256(messageKey, ZERO_SALT, MESSAGE_KEYS_INFO, AES_GCM_KEY_LENGTH + AES_GCM_IV_LENGTH);
  return { key: out.subarray(0, AES_GCM_KEY_LENGTH), iv: out.subarray(AES_GCM_KEY_LENGTH) };
}
