/**
 * Encrypted profiles (docs/protocol.md "Profiles"): an account's display name, about text and avatar are stored on
 * the server as ciphertext under keys derived from its profile key (access-key.ts), which it shares end-to-end with
 * the people and groups it talks to. As in Signal's profiles, the server indexes the ciphertext by a *version*
 * derived from the key, so that only key holders can ask for it, and never learns the key:
 *
 *   version   = HKDF-SHA256(IKM = profile key, salt = "", info = VERSION_INFO || account id (16 bytes), L = 32)
 *   fieldKey  = HKDF-SHA256(IKM = profile key, salt = "", info = FIELD_INFO || field label, L = 32)      (RFC 5869)
 *   field     = nonce (12 random bytes) || AES-256-GCM(fieldKey, nonce, pad(value), aad = label || version)
 *
 * `pad` is the Padmé padding of 1:1 messages (wire/padding.ts: at least 160 bytes, then buckets), so a name's or
 * avatar's length shows only as its bucket. The associated data binds each ciphertext to its field and its version:
 * a server cannot swap the name and the about text, or serve one account's fields (or an old key's) for another.
 * A new profile key (rotated when the user blocks someone) gives a new version and new field keys; whoever held only
 * the old key can fetch nothing new.
 */
import { concatBytes, fromHex, utf8 } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { pad, unpad } from '../wire/padding.js';
import { PROFILE_KEY_LENGTH } from './access-key.js';

export const PROFILE_VERSION_LENGTH = 32;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const VERSION_INFO = utf8('Samizdat profile version v1\0');
const FIELD_INFO = utf8('Samizdat profile field v1\0');

/** The fields of a profile, and their labels in the key derivation and associated data. */
export const PROFILE_FIELDS = ['name', 'about', 'avatar'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];
/** The largest plaintext of each field (bytes): a name of 100, an about text of 500 characters, a 256 KiB avatar. */
export const MAX_PROFILE_FIELD_BYTES: Readonly<Record<ProfileField, number>> = { name: 400, about: 2000, avatar: 256 * 1024 };

function checkKey(profileKey: Uint8Array): void {
  if (profileKey.length !== PROFILE_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `a profile key is ${PROFILE_KEY_LENGTH} bytes`);
}

/** The version the server stores `accountId`'s profile under (32 bytes as 64 hex characters). */
export async function profileVersion(crypto: CryptoProvider, profileKey: Uint8Array, accountId: string): Promise<Uint8Array> {
  checkKey(profileKey);
  if (!/^[0-9a-f]{32}$/.test(accountId)) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'account id must be 32 hex characters');
  return crypto.hkdfSha256(profileKey, new Uint8Array(0), concatBytes(VERSION_INFO, fromHex(accountId)), PROFILE_VERSION_LENGTH);
}

async function fieldKey(crypto: CryptoProvider, profileKey: Uint8Array, field: ProfileField): Promise<Uint8Array> {
  return crypto.hkdfSha256(profileKey, new Uint8Array(0), concatBytes(FIELD_INFO, utf8(field)), 32);
}

/** The largest ciphertext of a field: nonce, padded maximum plaintext, tag. */
export function maxProfileCiphertext(field: ProfileField): number {
  return NONCE_LENGTH + pad(new Uint8Array(MAX_PROFILE_FIELD_BYTES[field])).length + TAG_LENGTH;
}

/** Encrypts one field of the profile of `version` (see the module comment). INVALID_ARGUMENT past its size. */
export async function encryptProfileField(
  crypto: CryptoProvider,
  profileKey: Uint8Array,
  version: Uint8Array,
  field: ProfileField,
  value: Uint8Array,
): Promise<Uint8Array> {
  checkKey(profileKey);
  if (value.length > MAX_PROFILE_FIELD_BYTES[field]) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `the profile ${field} is larger than ${MAX_PROFILE_FIELD_BYTES[field]} bytes`);
  }
  const nonce = crypto.randomBytes(NONCE_LENGTH);
  const sealed = await crypto.aesGcmEncrypt(await fieldKey(crypto, profileKey, field), nonce, pad(value), concatBytes(utf8(field), version));
  return concatBytes(nonce, sealed);
}

/** Decrypts one field; BAD_MAC for another key, field or version, or any change; DECODE_ERROR for a bad length. */
export async function decryptProfileField(
  crypto: CryptoProvider,
  profileKey: Uint8Array,
  version: Uint8Array,
  field: ProfileField,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  checkKey(profileKey);
  if (ciphertext.length < NONCE_LENGTH + TAG_LENGTH || ciphertext.length > maxProfileCiphertext(field)) {
    throw new ProtocolError(ProtocolErrorCode.Decode, `the profile ${field} has an impossible length`);
  }
  const padded = await crypto.aesGcmDecrypt(
    await fieldKey(crypto, profileKey, field),
    ciphertext.subarray(0, NONCE_LENGTH),
    ciphertext.subarray(NONCE_LENGTH),
    concatBytes(utf8(field), version),
  );
  return unpad(padded);
}
