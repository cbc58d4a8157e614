/**
 * The X-Wing KEM of sealed sender (src/sealed-sender/x-wing-kem.ts) against two other implementations of
 * draft-connolly-cfrg-xwing-kem: @hpke/hybridkem-x-wing (which sealed sender used before) and the node:crypto X-Wing
 * of the MLS provider. On both crypto providers: the same derived keys, each side decapsulates the other's
 * encapsulations to the same secret, an HPKE seal by one suite opens with the other, and malformed input is refused.
 */
import { Aes256Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { XWing } from '@hpke/hybridkem-x-wing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeXWing } from '../../src/groups/node-provider/x-wing.js';
import { ProviderXWing } from '../../src/sealed-sender/x-wing-kem.js';
import { providers } from '../crypto/providers.js';

const bytes = (buffer: ArrayBuffer) => new Uint8Array(buffer);
const reference = new XWing();

describe.each(providers)('ProviderXWing on the %s provider', (_name, crypto) => {
  const kem = new ProviderXWing(crypto);

  it('derives the keys @hpke/hybridkem-x-wing and the MLS X-Wing derive', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 64 }), async (ikm) => {
        const ours = await kem.deriveKeyPair(ikm);
        const theirs = await reference.deriveKeyPair(ikm);
        const ourPrivate = bytes(await kem.serializePrivateKey(ours.privateKey));
        const ourPublic = bytes(await kem.serializePublicKey(ours.publicKey));
        expect(ourPrivate).toEqual(bytes(await reference.serializePrivateKey(theirs.privateKey)));
        expect(ourPublic).toEqual(bytes(await reference.serializePublicKey(theirs.publicKey)));
        expect(makeXWing().publicKeyOf(ourPrivate)).toEqual(ourPublic);
      }),
      { numRuns: 8 },
    );
  });

  it('decapsulates the reference encapsulations, and the reference decapsulates ours, to the same secret', async () => {
    const pair = await kem.generateKeyPair();
    const publicKey = bytes(await kem.serializePublicKey(pair.publicKey));
    const privateKey = bytes(await kem.serializePrivateKey(pair.privateKey));
    const theirPublic = await reference.deserializePublicKey(publicKey);
    const theirPrivate = await reference.deserializePrivateKey(privateKey);
    for (let i = 0; i < 4; i++) {
      const fromThem = await reference.encap({ recipientPublicKey: theirPublic });
      expect(bytes(await kem.decap({ enc: fromThem.enc, recipientKey: await kem.deserializePrivateKey(privateKey) }))).toEqual(bytes(fromThem.sharedSecret));
      const fromUs = await kem.encap({ recipientPublicKey: await kem.deserializePublicKey(publicKey) });
      expect(bytes(await reference.decap({ enc: fromUs.enc, recipientKey: theirPrivate }))).toEqual(bytes(fromUs.sharedSecret));
      const mls = makeXWing().encap(publicKey);
      expect(bytes(await kem.decap({ enc: mls.enc, recipientKey: pair.privateKey }))).toEqual(mls.sharedSecret);
    }
  });

  it('interoperates as an HPKE suite: a seal by either suite opens with the other', async () => {
    const ours = new CipherSuite({ kem, kdf: new HkdfSha256(), aead: new Aes256Gcm() });
    const theirs = new CipherSuite({ kem: reference, kdf: new HkdfSha256(), aead: new Aes256Gcm() });
    const pair = await theirs.kem.generateKeyPair();
    const raw = { pk: bytes(await theirs.kem.serializePublicKey(pair.publicKey)), sk: bytes(await theirs.kem.serializePrivateKey(pair.privateKey)) };
    const info = new TextEncoder().encode('info');
    const message = new TextEncoder().encode('a sealed sender identity');

    const sender = await ours.createSenderContext({ recipientPublicKey: await ours.kem.deserializePublicKey(raw.pk), info });
    const opened = await theirs.createRecipientContext({ recipientKey: pair.privateKey, enc: sender.enc, info });
    expect(bytes(await opened.open(await sender.seal(message)))).toEqual(message);

    const sender2 = await theirs.createSenderContext({ recipientPublicKey: pair.publicKey, info });
    const opened2 = await ours.createRecipientContext({ recipientKey: await ours.kem.deserializePrivateKey(raw.sk), enc: sender2.enc, info });
    expect(bytes(await opened2.open(await sender2.seal(message)))).toEqual(message);
    expect(bytes(await opened2.export(new TextEncoder().encode('x'), 32))).toEqual(bytes(await sender2.export(new TextEncoder().encode('x'), 32)));
  });

  it('expands a private key once per byte array it was given, and never mixes two keys up', async () => {
    const a = await kem.generateKeyPair();
    const b = await kem.generateKeyPair();
    const aRaw = bytes(await kem.serializePrivateKey(a.privateKey));
    const bRaw = bytes(await kem.serializePrivateKey(b.privateKey));
    expect(await kem.deserializePrivateKey(aRaw)).toBe(await kem.deserializePrivateKey(aRaw));
    const toB = await kem.encap({ recipientPublicKey: b.publicKey });
    expect(bytes(await kem.decap({ enc: toB.enc, recipientKey: await kem.deserializePrivateKey(bRaw) }))).toEqual(bytes(toB.sharedSecret));
    expect(bytes(await kem.decap({ enc: toB.enc, recipientKey: await kem.deserializePrivateKey(aRaw) }))).not.toEqual(bytes(toB.sharedSecret));
  });

  it('refuses keys and ciphertexts of the wrong length, and keys of the wrong kind', async () => {
    await expect(kem.deserializePublicKey(new Uint8Array(1215))).rejects.toThrow(/1,216/);
    await expect(kem.deserializePrivateKey(new Uint8Array(31))).rejects.toThrow(/32 bytes/);
    const pair = await kem.generateKeyPair();
    await expect(kem.decap({ enc: new Uint8Array(1119), recipientKey: pair.privateKey })).rejects.toThrow(/1,120/);
    await expect(kem.encap({ recipientPublicKey: pair.privateKey })).rejects.toThrow(/public key/);
    await expect(kem.decap({ enc: new Uint8Array(1120), recipientKey: pair.publicKey })).rejects.toThrow(/private key/);
    await expect(kem.encap({ recipientPublicKey: pair.publicKey, ekm: new Uint8Array(64) })).rejects.toThrow(/derandomized/);
  });
});
