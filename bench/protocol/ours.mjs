/**
 * Our half of the benchmark: @samizdat/protocol as built by `tsc -b` (packages/protocol/dist), on NodeCryptoProvider.
 *
 * InMemoryProtocolStore keeps every session record as bytes only; sessions/session-cipher.ts decodes the record
 * (`decodeSessionRecord`) at the start of every encrypt and decrypt and stores `encodeSessionRecord(...)` at the end,
 * so each operation serializes and restores the session state as a persistent client must.
 */
import {
  InMemoryProtocolStore,
  SessionManager,
  CiphertextType,
  constantTimeEqual,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
} from '../../packages/protocol/dist/index.js';
import { NodeCryptoProvider } from '../../packages/protocol/dist/crypto/node-provider.js';

const provider = new NodeCryptoProvider();

// Trust on first use, then the pinned key must match (the same policy the bench gives libsignal's store).
const tofu = (_account, key, known) => known === undefined || constantTimeEqual(known, key);

let nextAccount = 1;

/** A device with a store holding one signed prekey, one one-time curve prekey and one one-time ML-KEM prekey. */
async function makeDevice(device) {
  const address = { account: `account-${nextAccount++}`, device };
  const identity = await generateIdentityKeyPair(provider);
  const store = new InMemoryProtocolStore(identity, tofu);
  const now = Date.now();
  const signed = await generateSignedPreKey(provider, identity, 1, now);
  store.signedPreKeys.set(signed.id, signed);
  const kyber = await generateKyberPreKey(provider, identity, 2000, false, now);
  store.kyberPreKeys.set(kyber.id, kyber);
  const [oneTime] = await generateOneTimePreKeys(provider, 100, 1);
  store.oneTimePreKeys.set(oneTime.id, oneTime);
  return {
    address,
    store,
    manager: new SessionManager(provider, store),
    bundle: {
      identityKey: identity.publicKey,
      deviceId: device,
      signedPreKey: { id: signed.id, publicKey: signed.keyPair.publicKey, signature: signed.signature },
      oneTimePreKey: { id: oneTime.id, publicKey: oneTime.keyPair.publicKey },
      kyberPreKey: { id: kyber.id, publicKey: kyber.keyPair.publicKey, signature: kyber.signature },
    },
  };
}

/** Encrypts `plaintext` from `from` to `to`, decrypts it on `to`; returns the ciphertext bytes and its type. */
async function transfer(from, to, plaintext) {
  const ciphertext = await from.manager.encrypt(to.address, plaintext);
  // Only the type and the body bytes cross to the receiver, as on the wire.
  const result = await to.manager.decrypt(from.address, { type: ciphertext.type, body: ciphertext.body });
  if (result.kind !== 'message' || Buffer.compare(result.plaintext, plaintext) !== 0) {
    throw new Error(`ours: decryption gave ${result.kind} instead of the plaintext`);
  }
  return { bytes: ciphertext.body.length, prekey: ciphertext.type === CiphertextType.PreKey };
}

async function recordBytes(device, remote) {
  return (await device.store.loadSession(remote.address))?.length ?? 0;
}

export const ours = {
  name: 'ours',
  label: `@samizdat/protocol (${provider.name} provider)`,

  /** Alice and Bob with an established session: Alice's initial (prekey) message to Bob and Bob's reply. */
  async createSession(plaintext) {
    const alice = await makeDevice(1);
    const bob = await makeDevice(1);
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle);
    const first = await transfer(alice, bob, plaintext);
    if (!first.prekey) throw new Error('ours: first message is not a prekey message');
    await transfer(bob, alice, plaintext);
    return {
      /** One encrypt + decrypt; returns the ciphertext length. Throws if a prekey message appears. */
      async send(fromAlice, message) {
        const { bytes, prekey } = fromAlice ? await transfer(alice, bob, message) : await transfer(bob, alice, message);
        if (prekey) throw new Error('ours: prekey message after the handshake');
        return bytes;
      },
      async stateBytes() {
        return { alice: await recordBytes(alice, bob), bob: await recordBytes(bob, alice) };
      },
    };
  },

  /** Fresh identities and prekeys for `count` set-ups (untimed). */
  async prepareSetups(count) {
    const out = [];
    for (let i = 0; i < count; i++) out.push({ alice: await makeDevice(1), bob: await makeDevice(1) });
    return out;
  },

  /** Timed: bundle processing, the first message's encryption, and its decryption by the responder. */
  async runSetup({ alice, bob }, plaintext) {
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle);
    const { bytes, prekey } = await transfer(alice, bob, plaintext);
    if (!prekey) throw new Error('ours: first message is not a prekey message');
    return bytes;
  },
};
