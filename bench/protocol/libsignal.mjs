/**
 * The libsignal half of the benchmark: @signalapp/libsignal-client 0.103.0 (Rust, called through its Node bridge).
 *
 * Stores follow libsignal's abstract store classes. The session store keeps only bytes: every save runs
 * `SessionRecord.serialize()` and every load runs `SessionRecord.deserialize()`, as a persistent client must.
 * Prekey records stay as objects in memory (our InMemoryProtocolStore does the same with its prekeys), and the
 * identity store keeps PublicKey objects and compares keys on every trust check.
 */
import {
  CiphertextMessageType,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  processPreKeyBundle,
  sealedSenderDecryptMessage,
  sealedSenderEncryptMessage,
  SenderCertificate,
  ServerCertificate,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@signalapp/libsignal-client';
import { randomUUID } from 'node:crypto';

const keyOf = (address) => `${address.name()}.${address.deviceId()}`;

class BytesSessionStore extends SessionStore {
  records = new Map();

  async saveSession(address, record) {
    this.records.set(keyOf(address), record.serialize());
  }

  async getSession(address) {
    const bytes = this.records.get(keyOf(address));
    return bytes === undefined ? null : SessionRecord.deserialize(bytes);
  }

  async getExistingSessions(addresses) {
    return addresses.map((address) => {
      const bytes = this.records.get(keyOf(address));
      if (bytes === undefined) throw new Error(`no session with ${keyOf(address)}`);
      return SessionRecord.deserialize(bytes);
    });
  }

  /** Size of the stored record for `address` (what a persistent client writes after every message). */
  recordBytes(address) {
    return this.records.get(keyOf(address))?.length ?? 0;
  }
}

class MemoryIdentityStore extends IdentityKeyStore {
  known = new Map();

  constructor(identity, registrationId) {
    super();
    this.identity = identity;
    this.registrationId = registrationId;
  }

  async getIdentityKey() {
    return this.identity.privateKey;
  }

  async getIdentityKeyPair() {
    return this.identity;
  }

  async getLocalRegistrationId() {
    return this.registrationId;
  }

  async saveIdentity(address, key) {
    const known = this.known.get(keyOf(address));
    this.known.set(keyOf(address), key);
    return known !== undefined && !known.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }

  // Trust on first use, then the pinned key must match (the same policy the bench gives our store).
  async isTrustedIdentity(address, key) {
    const known = this.known.get(keyOf(address));
    return known === undefined || known.equals(key);
  }

  async getIdentity(address) {
    return this.known.get(keyOf(address)) ?? null;
  }
}

class MemoryPreKeyStore extends PreKeyStore {
  records = new Map();

  async savePreKey(id, record) {
    this.records.set(id, record);
  }

  async getPreKey(id) {
    const record = this.records.get(id);
    if (!record) throw new Error(`prekey ${id} not found`);
    return record;
  }

  async removePreKey(id) {
    this.records.delete(id);
  }
}

class MemorySignedPreKeyStore extends SignedPreKeyStore {
  records = new Map();

  async saveSignedPreKey(id, record) {
    this.records.set(id, record);
  }

  async getSignedPreKey(id) {
    const record = this.records.get(id);
    if (!record) throw new Error(`signed prekey ${id} not found`);
    return record;
  }
}

/** One-time Kyber prekeys only: a used one is deleted. */
class MemoryKyberPreKeyStore extends KyberPreKeyStore {
  records = new Map();

  async saveKyberPreKey(id, record) {
    this.records.set(id, record);
  }

  async getKyberPreKey(id) {
    const record = this.records.get(id);
    if (!record) throw new Error(`kyber prekey ${id} not found`);
    return record;
  }

  async markKyberPreKeyUsed(id) {
    this.records.delete(id);
  }
}

/** A device: address, identity and the five stores. `bundle()` hands out its one set of prekeys. */
function makeDevice(deviceId) {
  const identity = IdentityKeyPair.generate();
  const registrationId = 1 + Math.floor(Math.random() * 16380);
  const device = {
    // A UUID name: sealed sender certificates name the sender by one (ACI) and the recipient checks it.
    address: ProtocolAddress.new(randomUUID(), deviceId),
    sessions: new BytesSessionStore(),
    identity: new MemoryIdentityStore(identity, registrationId),
    preKeys: new MemoryPreKeyStore(),
    signedPreKeys: new MemorySignedPreKeyStore(),
    kyberPreKeys: new MemoryKyberPreKeyStore(),
  };
  // Prekeys as a registering device makes them: a signed curve prekey, a one-time curve prekey and a one-time Kyber
  // prekey, both signed prekeys signed by the identity key.
  const signed = PrivateKey.generate();
  const signedSignature = identity.privateKey.sign(signed.getPublicKey().serialize());
  device.signedPreKeys.records.set(
    1,
    SignedPreKeyRecord.new(1, Date.now(), signed.getPublicKey(), signed, signedSignature),
  );
  const oneTime = PrivateKey.generate();
  device.preKeys.records.set(100, PreKeyRecord.new(100, oneTime.getPublicKey(), oneTime));
  const kem = KEMKeyPair.generate();
  const kemSignature = identity.privateKey.sign(kem.getPublicKey().serialize());
  device.kyberPreKeys.records.set(2000, KyberPreKeyRecord.new(2000, Date.now(), kem, kemSignature));
  device.bundle = PreKeyBundle.new(
    registrationId,
    deviceId,
    100,
    oneTime.getPublicKey(),
    1,
    signed.getPublicKey(),
    signedSignature,
    identity.publicKey,
    2000,
    kem.getPublicKey(),
    kemSignature,
  );
  return device;
}

/** Encrypts `plaintext` from `from` to `to`, decrypts it on `to`; returns the ciphertext bytes and its type. */
async function transfer(from, to, plaintext) {
  const ciphertext = await signalEncrypt(plaintext, to.address, from.address, from.sessions, from.identity);
  const bytes = ciphertext.serialize();
  const type = ciphertext.type();
  let decrypted;
  if (type === CiphertextMessageType.PreKey) {
    decrypted = await signalDecryptPreKey(
      PreKeySignalMessage.deserialize(bytes),
      from.address,
      to.address,
      to.sessions,
      to.identity,
      to.preKeys,
      to.signedPreKeys,
      to.kyberPreKeys,
    );
  } else if (type === CiphertextMessageType.Whisper) {
    decrypted = await signalDecrypt(SignalMessage.deserialize(bytes), from.address, to.address, to.sessions, to.identity);
  } else {
    throw new Error(`unexpected ciphertext type ${type}`);
  }
  if (Buffer.compare(decrypted, plaintext) !== 0) throw new Error('libsignal: plaintext mismatch');
  return { bytes: bytes.length, prekey: type === CiphertextMessageType.PreKey };
}

/**
 * Sealed (sender certificate v1 envelope, what `sealedSenderEncryptMessage` produces for one recipient): Alice's
 * session message is sealed to Bob, Bob's `sealedSenderDecryptMessage` opens it, validates the certificate against the
 * trust root at the given time and decrypts the inner message with the sender's session.
 */
async function sealedTransfer(from, to, trustRoot, plaintext) {
  const sealed = await sealedSenderEncryptMessage(plaintext, to.address, from.certificate, from.sessions, from.identity);
  const result = await sealedSenderDecryptMessage(
    sealed,
    trustRoot,
    Date.now(),
    null,
    to.address.name(),
    to.address.deviceId(),
    to.sessions,
    to.identity,
    to.preKeys,
    to.signedPreKeys,
    to.kyberPreKeys,
  );
  if (result.senderUuid() !== from.address.name()) throw new Error('libsignal: unsealed the wrong sender');
  if (Buffer.compare(result.message(), plaintext) !== 0) throw new Error('libsignal: sealed plaintext mismatch');
  return sealed.length;
}

export const libsignal = {
  name: 'libsignal',
  label: '@signalapp/libsignal-client 0.103.0',

  /** Alice and Bob with an established session: Alice's initial (prekey) message to Bob and Bob's reply. */
  async createSession(plaintext) {
    const alice = makeDevice(1);
    const bob = makeDevice(1);
    await processPreKeyBundle(bob.bundle, bob.address, alice.address, alice.sessions, alice.identity);
    const first = await transfer(alice, bob, plaintext);
    if (!first.prekey) throw new Error('libsignal: first message is not a prekey message');
    await transfer(bob, alice, plaintext);
    return {
      /** One encrypt + decrypt; returns the ciphertext length. Throws if a prekey message appears. */
      async send(fromAlice, message) {
        const { bytes, prekey } = fromAlice ? await transfer(alice, bob, message) : await transfer(bob, alice, message);
        if (prekey) throw new Error('libsignal: prekey message after the handshake');
        return bytes;
      },
      async stateBytes() {
        return { alice: alice.sessions.recordBytes(bob.address), bob: bob.sessions.recordBytes(alice.address) };
      },
    };
  },

  /** As createSession, with a sender certificate for each side; every `send` is sealed and unsealed. */
  async createSealedSession(plaintext) {
    const root = PrivateKey.generate();
    const signing = PrivateKey.generate();
    const server = ServerCertificate.new(1, signing.getPublicKey(), root);
    const alice = makeDevice(1);
    const bob = makeDevice(1);
    for (const who of [alice, bob]) {
      const key = (await who.identity.getIdentityKeyPair()).publicKey;
      who.certificate = SenderCertificate.new(who.address.name(), null, who.address.deviceId(), key, Date.now() + 86_400_000, server, signing);
    }
    await processPreKeyBundle(bob.bundle, bob.address, alice.address, alice.sessions, alice.identity);
    await sealedTransfer(alice, bob, root.getPublicKey(), plaintext);
    await sealedTransfer(bob, alice, root.getPublicKey(), plaintext);
    return {
      async send(fromAlice, message) {
        return fromAlice ? sealedTransfer(alice, bob, root.getPublicKey(), message) : sealedTransfer(bob, alice, root.getPublicKey(), message);
      },
      async stateBytes() {
        return { alice: alice.sessions.recordBytes(bob.address), bob: bob.sessions.recordBytes(alice.address) };
      },
    };
  },

  /** Fresh identities and prekeys for `count` set-ups (untimed). */
  async prepareSetups(count) {
    const out = [];
    for (let i = 0; i < count; i++) out.push({ alice: makeDevice(1), bob: makeDevice(1) });
    return out;
  },

  /** Timed: bundle processing, the first message's encryption, and its decryption by the responder. */
  async runSetup({ alice, bob }, plaintext) {
    await processPreKeyBundle(bob.bundle, bob.address, alice.address, alice.sessions, alice.identity);
    const { bytes, prekey } = await transfer(alice, bob, plaintext);
    if (!prekey) throw new Error('libsignal: first message is not a prekey message');
    return bytes;
  },
};
