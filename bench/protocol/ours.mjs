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
  deriveSealedSenderKeyPair,
  issueSenderCertificate,
  issueServerCertificate,
  sealedSenderDecrypt,
  sealedSenderEncrypt,
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
    identity,
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

/** A server trust root and a signing key certified by it (sealed sender, untimed). */
async function makeServer() {
  const root = await provider.ed25519GenerateKeyPair();
  const signing = await provider.ed25519GenerateKeyPair();
  return { root, signing, certificate: await issueServerCertificate(provider, root, 1, signing.publicKey) };
}

/**
 * Sealed: Alice's session message is sealed to Bob (sealedSenderEncrypt), Bob unseals it (sealedSenderDecrypt, which
 * verifies the certificate chain, expiry and that the certificate's identity sealed it) and decrypts the inner message
 * with the session of the certificate's sender — what the client's inbox does for every SealedSender envelope.
 */
async function sealedTransfer(from, to, context, plaintext) {
  const ciphertext = await from.manager.encrypt(to.address, plaintext);
  const sealed = await sealedSenderEncrypt(provider, {
    recipientIdentity: to.identity.publicKey,
    recipientSealedKey: to.sealedKeyPair.publicKey,
    senderIdentity: from.identity,
    certificate: from.certificate,
    innerType: ciphertext.type,
    inner: ciphertext.body,
  });
  const unsealed = await sealedSenderDecrypt(provider, sealed, {
    identity: to.identity,
    sealedKeyPair: to.sealedKeyPair,
    trustRoot: context.root.publicKey,
    now: Date.now(),
  });
  if (unsealed.certificate.accountId !== from.accountHex) throw new Error('ours: unsealed the wrong sender');
  const result = await to.manager.decrypt(from.address, { type: unsealed.innerType, body: unsealed.inner });
  if (result.kind !== 'message' || Buffer.compare(result.plaintext, plaintext) !== 0) {
    throw new Error(`ours: sealed decryption gave ${result.kind} instead of the plaintext`);
  }
  return { bytes: sealed.length, prekey: ciphertext.type === CiphertextType.PreKey };
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

  /**
   * Alice and Bob with an established session, a sender certificate for each and Bob's sealed-sender key pair; every
   * `send` is sealed and unsealed (sealedTransfer).
   */
  async createSealedSession(plaintext) {
    const server = await makeServer();
    const alice = await makeDevice(1);
    const bob = await makeDevice(1);
    for (const [who, n] of [[alice, 'a1'], [bob, 'b2']]) {
      who.accountHex = n.repeat(16);
      who.sealedKeyPair = await deriveSealedSenderKeyPair(provider, who.identity);
      who.certificate = await issueSenderCertificate(provider, server.certificate, server.signing.privateKey, {
        accountId: who.accountHex,
        deviceId: 1,
        identityKey: who.identity.publicKey,
        expires: Date.now() + 86_400_000,
      });
    }
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle);
    await sealedTransfer(alice, bob, server, plaintext);
    await sealedTransfer(bob, alice, server, plaintext);
    return {
      async send(fromAlice, message) {
        const { bytes, prekey } = fromAlice ? await sealedTransfer(alice, bob, server, message) : await sealedTransfer(bob, alice, server, message);
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
