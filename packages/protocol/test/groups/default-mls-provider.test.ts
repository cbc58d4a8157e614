/**
 * The browser's MLS provider (src/groups/default-mls-provider.ts): ts-mls's default, with P-521 signing keys
 * left-padded to 66 bytes because @noble/curves 2.4.0 (forced by our root overrides) refuses shorter scalars.
 */
import { describe, expect, it } from 'vitest';
import { defaultCryptoProvider, getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';
import { P521_SCALAR_LENGTH, defaultMlsCryptoProvider, leftPad } from '../../src/groups/default-mls-provider.js';

const P521_SUITE = getCiphersuiteFromName('MLS_256_DHKEMP521_AES256GCM_SHA512_P521');
const message = new TextEncoder().encode('signed with a 65-byte scalar');

/** A P-521 key pair whose scalar starts with a zero byte (about half of them), and that scalar without it. */
async function keyWithLeadingZero() {
  const impl = await getCiphersuiteImpl(P521_SUITE, defaultMlsCryptoProvider);
  for (;;) {
    const { signKey, publicKey } = await impl.signature.keygen();
    if (signKey.length === P521_SCALAR_LENGTH && signKey[0] === 0) return { short: signKey.slice(1), publicKey };
  }
}

describe('the default MLS provider with padded P-521 keys', () => {
  it('left-pads to the same big-endian integer and leaves full-length keys alone', () => {
    expect([...leftPad(Uint8Array.of(1, 2), 4)]).toEqual([0, 0, 1, 2]);
    const full = Uint8Array.of(9, 8, 7);
    expect(leftPad(full, 3)).toBe(full);
  });

  it('signs with a 65-byte P-521 scalar, verifiably under its public key', async () => {
    const { short, publicKey } = await keyWithLeadingZero();
    const impl = await getCiphersuiteImpl(P521_SUITE, defaultMlsCryptoProvider);
    const signature = await impl.signature.sign(short, message);
    expect(await impl.signature.verify(publicKey, message, signature)).toBe(true);
  });

  it('is needed: ts-mls’s default provider alone refuses that scalar (remove the wrapper once it does not)', async () => {
    const { short } = await keyWithLeadingZero();
    const raw = await getCiphersuiteImpl(P521_SUITE, defaultCryptoProvider);
    await expect(raw.signature.sign(short, message)).rejects.toThrow(/66 bytes/);
  });

  it('pads only P-521 keys: a short Ed25519 key is still refused', async () => {
    const suite = getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519');
    const impl = await getCiphersuiteImpl(suite, defaultMlsCryptoProvider);
    const { signKey } = await impl.signature.keygen();
    await expect(impl.signature.sign(signKey.slice(1), message)).rejects.toThrow();
  });
});
