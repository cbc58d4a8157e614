/**
 * Encrypted profiles (src/sealed-sender/profile-cipher.ts) on both providers: round trips of every field, the version
 * and field keys recomputed with @noble/hashes' HKDF and a field opened with @noble/ciphers' AES-GCM (independent
 * implementations), lengths that show only the padding bucket, and every swap a server could try — another field,
 * another version (account or key), another key, a changed byte — refused with BAD_MAC.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, utf8 } from '../../src/crypto/bytes.js';
import { ProtocolErrorCode } from '../../src/errors.js';
import { unpad } from '../../src/wire/padding.js';
import { MAX_PROFILE_FIELD_BYTES, PROFILE_FIELDS, decryptProfileField, encryptProfileField, profileVersion } from '../../src/sealed-sender/profile-cipher.js';
import { providers, rejectionCode } from '../crypto/providers.js';

const ALICE = 'a1'.repeat(16);
const BOB = 'b2'.repeat(16);

describe.each(providers)('profile cipher on the %s provider', (_name, crypto) => {
  it('derives the version and field keys as HKDF-SHA256 says, and noble AES-GCM opens a field', async () => {
    const key = crypto.randomBytes(32);
    const version = await profileVersion(crypto, key, ALICE);
    expect(version).toEqual(hkdf(sha256, key, new Uint8Array(0), concatBytes(utf8('Samizdat profile version v1\0'), fromHex(ALICE)), 32));
    expect(await profileVersion(crypto, key, BOB)).not.toEqual(version);
    const sealed = await encryptProfileField(crypto, key, version, 'name', utf8('Alice'));
    const fieldKey = hkdf(sha256, key, new Uint8Array(0), concatBytes(utf8('Samizdat profile field v1\0'), utf8('name')), 32);
    const opened = gcm(fieldKey, sealed.subarray(0, 12), concatBytes(utf8('name'), version)).decrypt(sealed.subarray(12));
    expect(unpad(opened)).toEqual(utf8('Alice'));
  });

  it('round-trips every field, empty to its largest', async () => {
    const key = crypto.randomBytes(32);
    const version = await profileVersion(crypto, key, ALICE);
    for (const field of PROFILE_FIELDS) {
      for (const length of [0, 1, 52, MAX_PROFILE_FIELD_BYTES[field]]) {
        const value = crypto.randomBytes(length);
        expect(await decryptProfileField(crypto, key, version, field, await encryptProfileField(crypto, key, version, field, value))).toEqual(value);
      }
      expect(await rejectionCode(encryptProfileField(crypto, key, version, field, new Uint8Array(MAX_PROFILE_FIELD_BYTES[field] + 1)))).toBe(ProtocolErrorCode.InvalidArgument);
    }
  });

  it('shows only the padding bucket of a length: short names are all the same size, fresh nonces every time', async () => {
    const key = crypto.randomBytes(32);
    const version = await profileVersion(crypto, key, ALICE);
    const a = await encryptProfileField(crypto, key, version, 'name', utf8('Al'));
    const b = await encryptProfileField(crypto, key, version, 'name', utf8('Bartholomew Fitzgerald-Smythe'));
    const c = await encryptProfileField(crypto, key, version, 'name', utf8('Al'));
    expect(a.length).toBe(b.length);
    expect(a).not.toEqual(c);
  });

  it('refuses another field, version, account or key, and any changed byte, with BAD_MAC', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.nat(), async (value, at) => {
        const key = crypto.randomBytes(32);
        const version = await profileVersion(crypto, key, ALICE);
        const sealed = await encryptProfileField(crypto, key, version, 'name', value);
        const other = crypto.randomBytes(32);
        expect(await rejectionCode(decryptProfileField(crypto, key, version, 'about', sealed))).toBe(ProtocolErrorCode.BadMac);
        expect(await rejectionCode(decryptProfileField(crypto, key, await profileVersion(crypto, key, BOB), 'name', sealed))).toBe(ProtocolErrorCode.BadMac);
        expect(await rejectionCode(decryptProfileField(crypto, key, await profileVersion(crypto, other, ALICE), 'name', sealed))).toBe(ProtocolErrorCode.BadMac);
        expect(await rejectionCode(decryptProfileField(crypto, other, version, 'name', sealed))).toBe(ProtocolErrorCode.BadMac);
        const tampered = sealed.slice();
        tampered[at % tampered.length]! ^= 1;
        expect(await rejectionCode(decryptProfileField(crypto, key, version, 'name', tampered))).toBe(ProtocolErrorCode.BadMac);
      }),
      { numRuns: 20 },
    );
  });

  it('refuses impossible lengths and keys', async () => {
    const key = crypto.randomBytes(32);
    const version = await profileVersion(crypto, key, ALICE);
    expect(await rejectionCode(decryptProfileField(crypto, key, version, 'name', new Uint8Array(27)))).toBe(ProtocolErrorCode.Decode);
    expect(await rejectionCode(decryptProfileField(crypto, key, version, 'name', new Uint8Array(5000)))).toBe(ProtocolErrorCode.Decode);
    expect(await rejectionCode(profileVersion(crypto, new Uint8Array(31), ALICE))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(await rejectionCode(profileVersion(crypto, key, 'not an account'))).toBe(ProtocolErrorCode.InvalidArgument);
  });
});
