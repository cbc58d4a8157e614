/**
 * Unidentified delivery (docs/protocol.md "Sealed sender"): a sealed envelope reaches the server over a request that
 * names no sender, so the server needs another reason to accept it. As in Signal, the recipient registers a 16-byte
 * access key derived from its profile key, which it shares end-to-end only with the people it talks to (inside their
 * messages); a sender presents the key, and the server compares it in constant time. Signal derives it as the first
 * 16 bytes of AES-256-GCM(profile key, nonce 0, 16 zero bytes); we use a KDF made for deriving keys instead:
 *
 *   accessKey = HKDF-SHA256(IKM = profile key (32 bytes), salt = "", info = ACCESS_KEY_INFO, L = 16)   (RFC 5869)
 *
 * The key proves nothing about who sends: anyone the recipient shared the profile key with can use it. It only keeps
 * strangers (who have to send identified, or not at all) from filling the queue anonymously.
 */
import { utf8 } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';

/** A profile key: 32 random bytes, per account (the same on all its devices). */
export const PROFILE_KEY_LENGTH = 32;
/** The access key a sealed send presents. */
export const ACCESS_KEY_LENGTH = 16;

const ACCESS_KEY_INFO = utf8('Samizdat unidentified access key v1');

/** The access key of `profileKey` (see the module comment). INVALID_ARGUMENT for a key of the wrong length. */
export async function deriveAccessKey(crypto: CryptoProvider, profileKey: Uint8Array): Promise<Uint8Array> {
  if (profileKey.length !== PROFILE_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `a profile key is ${PROFILE_KEY_LENGTH} bytes`);
  return crypto.hkdfSha256(profileKey, new Uint8Array(0), ACCESS_KEY_INFO, ACCESS_KEY_LENGTH);
}
