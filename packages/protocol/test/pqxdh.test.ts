import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { decodeIdentityKey, encodeIdentityKey, generateIdentityKeyPair } from '../src/keys/identity.js';
import { generateKyberPreKey, generateSignedPreKey } from '../src/keys/prekeys.js';
import { pqxdhInitiate, pqxdhRespond } from '../src/pqxdh.js';
import { toHex } from '../src/crypto/bytes.js';
import { makeDevice, providers, utf8, text } from './helpers.js';

describe.each(providers)('PQXDH (%s provider)', (_name, provider) => {
  async function setup(withOneTime: boolean) {
    const alice = await generateIdentityKeyPair(provider);
    const bob = await makeDevice(provider, { account: 'bob', device: 1 }, { oneTimePreKeys: withOneTime ? 1 : 0 });
    return { alice, bob, bundle: bob.bundle() };
  }

  async function respondTo(bob: Awaited<ReturnType<typeof setup>>['bob'], result: Awaited<ReturnType<typeof pqxdhInitiate>>, aliceKey: Uint8Array) {
    const spk = bob.store.signedPreKeys.get(result.signedPreKeyId);
    const kyber = bob.store.kyberPreKeys.get(result.kyberPreKeyId);
    const otp = result.oneTimePreKeyId === undefined ? undefined : bob.store.oneTimePreKeys.get(result.oneTimePreKeyId);
    return pqxdhRespond(provider, bob.identity, {
      theirIdentity: decodeIdentityKey(aliceKey),
      baseKey: result.baseKey,
      kemCiphertext: result.kemCiphertext,
      signedPreKey: spk!.keyPair,
      oneTimePreKey: otp?.keyPair,
      kyberPreKey: kyber!.keyPair,
    });
  }

  it.each([true, false])('derives the same secret and associated data on both sides (one-time prekey: %s)', async (withOneTime) => {
    const { alice, bob, bundle } = await setup(withOneTime);
    const result = await pqxdhInitiate(provider, alice, bundle);
    expect(result.oneTimePreKeyId !== undefined).toBe(withOneTime);
    const bobSide = await respondTo(bob, result, encodeIdentityKey(alice.publicKey));
    expect(toHex(bobSide.sharedSecret)).toBe(toHex(result.sharedSecret));
    expect(toHex(bobSide.associatedData)).toBe(toHex(result.associatedData));
    // §3.3: AD = Encode(IK_A) || Encode(IK_B)
    expect(toHex(result.associatedData)).toBe(
      toHex(encodeIdentityKey(alice.publicKey)) + toHex(encodeIdentityKey(bob.identity.publicKey)),
    );
  });

  it('derives a different secret when the responder believes in another initiator identity', async () => {
    const { alice, bob, bundle } = await setup(true);
    const mallory = await generateIdentityKeyPair(provider);
    const result = await pqxdhInitiate(provider, alice, bundle);
    const bobSide = await respondTo(bob, result, encodeIdentityKey(mallory.publicKey));
    expect(toHex(bobSide.sharedSecret)).not.toBe(toHex(result.sharedSecret));
  });

  it('derives a different secret when the one-time prekey is left out by an attacker', async () => {
    const { alice, bob, bundle } = await setup(true);
    const result = await pqxdhInitiate(provider, alice, bundle);
    const bobSide = await respondTo(bob, { ...result, oneTimePreKeyId: undefined }, encodeIdentityKey(alice.publicKey));
    expect(toHex(bobSide.sharedSecret)).not.toBe(toHex(result.sharedSecret));
  });

  it('refuses a bundle whose signed prekey signature was altered', async () => {
    const { alice, bundle } = await setup(true);
    const signature = bundle.signedPreKey.signature.slice();
    signature[7]! ^= 1;
    const err = await pqxdhInitiate(provider, alice, { ...bundle, signedPreKey: { ...bundle.signedPreKey, signature } }).catch((e: unknown) => e);
    expect(ProtocolError.is(err, 'BAD_SIGNATURE')).toBe(true);
  });

  it('refuses a bundle whose ML-KEM prekey signature was altered', async () => {
    const { alice, bundle } = await setup(true);
    const signature = bundle.kyberPreKey.signature.slice();
    signature[40]! ^= 0x80;
    const err = await pqxdhInitiate(provider, alice, { ...bundle, kyberPreKey: { ...bundle.kyberPreKey, signature } }).catch((e: unknown) => e);
    expect(ProtocolError.is(err, 'BAD_SIGNATURE')).toBe(true);
  });

  it('refuses a bundle whose prekeys were substituted and signed by another identity', async () => {
    const { alice, bundle } = await setup(true);
    const mallory = await generateIdentityKeyPair(provider);
    const spk = await generateSignedPreKey(provider, mallory, 1, 0);
    const kyber = await generateKyberPreKey(provider, mallory, 1, true, 0);
    const forgedSpk = { ...bundle, signedPreKey: { id: 1, publicKey: spk.keyPair.publicKey, signature: spk.signature } };
    const forgedKem = { ...bundle, kyberPreKey: { id: 1, publicKey: kyber.keyPair.publicKey, signature: kyber.signature } };
    for (const forged of [forgedSpk, forgedKem]) {
      const err = await pqxdhInitiate(provider, alice, forged).catch((e: unknown) => e);
      expect(ProtocolError.is(err, 'BAD_SIGNATURE')).toBe(true);
    }
  });

  it('refuses a signed prekey signature presented as the ML-KEM prekey signature (disjoint encodings)', async () => {
    const { alice, bundle } = await setup(true);
    const swapped = { ...bundle, kyberPreKey: { ...bundle.kyberPreKey, signature: bundle.signedPreKey.signature } };
    const err = await pqxdhInitiate(provider, alice, swapped).catch((e: unknown) => e);
    expect(ProtocolError.is(err, 'BAD_SIGNATURE')).toBe(true);
  });

  it('starts a session that carries a first message end to end', async () => {
    const alice = await makeDevice(provider, { account: 'alice', device: 1 });
    const bob = await makeDevice(provider, { account: 'bob', device: 1 });
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    const sent = await alice.manager.encrypt(bob.address, utf8('hello Bob'));
    const got = await bob.manager.decrypt(alice.address, sent);
    expect(got.kind === 'message' && text(got.plaintext)).toBe('hello Bob');
  });
});
