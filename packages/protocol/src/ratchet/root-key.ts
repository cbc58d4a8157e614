/**
 * The root chain of the Double Ratchet (signal.org/docs/specifications/doubleratchet §2.3, §5.2):
 * KDF_RK(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info = ROOT_KDF_INFO) → 64 bytes, split into the new root
 * key and a new chain key.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { utf8 } from '../crypto/bytes.js';

export const ROOT_KDF_INFO = utf8('Samizdat_DoubleRatchet_RootKey');

export async function kdfRootKey(
  provider: CryptoProvider,
  rootKey: Uint8Array,
  dhOutput: Uint8Array,
): Promise<{ rootKey: Uint8Array; chainKey: Uint8Array }> {
  const out = await provider.hkdfSha256(dhOutput, rootKey, ROOT_KDF_INFO, 64);
  dhOutput.fill(0);
  return { rootKey: out.subarray(0, 32), chainKey: out.subarray(32, 64) };
}
