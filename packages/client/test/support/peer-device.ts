/**
 * Another account's devices for the service tests, with real keys and sessions (@samizdat/protocol) kept in the
 * protocol's InMemoryProtocolStore: what the server would hand out for them (prekey bundles, as HttpApi returns
 * them), and what they would encrypt to us or make of what we encrypt to them. Also `installPreKeys`, which gives
 * this device (on a ClientStore) the prekeys a peer needs to start a session with it.
 */
import {
  CiphertextType,
  EnvelopeType,
  InMemoryProtocolStore,
  SessionManager,
  decodeEnvelope,
  encodeEnvelope,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
} from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair, PreKeyBundle, ProtocolAddress } from '@samizdat/protocol';
import type { Content } from '../../src/content/content.js';
import { decodeContent, encodeContent } from '../../src/content/content.js';
import type { ClientStore } from '../../src/storage/store.js';
import type { DeviceBundle } from '../../src/transport/http-api.js';

/** One device of a peer account: its own prekeys and sessions, the account's identity. */
export class PeerDevice {
  readonly sessions: SessionManager;
  private nextOneTime = 100;

  private constructor(
    private readonly crypto: CryptoProvider,
    readonly address: ProtocolAddress,
    readonly registrationId: number,
    readonly identity: IdentityKeyPair,
    readonly store: InMemoryProtocolStore,
  ) {
    this.sessions = new SessionManager(crypto, store);
  }

  static async create(crypto: CryptoProvider, address: ProtocolAddress, identity: IdentityKeyPair, registrationId: number): Promise<PeerDevice> {
    const store = new InMemoryProtocolStore(identity);
    const signed = await generateSignedPreKey(crypto, identity, 1, 0);
    const kyber = await generateKyberPreKey(crypto, identity, 2, true, 0);
    store.signedPreKeys.set(signed.id, signed);
    store.kyberPreKeys.set(kyber.id, kyber);
    return new PeerDevice(crypto, address, registrationId, identity, store);
  }

  /** A prekey bundle of this device, as GET /v1/keys hands it out (a fresh one-time key each time). */
  async bundle(): Promise<PreKeyBundle> {
    const [oneTime] = await generateOneTimePreKeys(this.crypto, this.nextOneTime++, 1);
    if (!oneTime) throw new Error('no one-time key generated');
    this.store.oneTimePreKeys.set(oneTime.id, oneTime);
    const signed = this.store.signedPreKeys.get(1);
    const kyber = this.store.kyberPreKeys.get(2);
    if (!signed || !kyber) throw new Error('prekeys missing');
    return {
      identityKey: this.identity.publicKey,
      deviceId: this.address.device,
      signedPreKey: { id: signed.id, publicKey: signed.keyPair.publicKey, signature: signed.signature },
      oneTimePreKey: { id: oneTime.id, publicKey: oneTime.keyPair.publicKey },
      kyberPreKey: { id: kyber.id, publicKey: kyber.keyPair.publicKey, signature: kyber.signature },
    };
  }

  /** The bundle as one entry of HttpApi.getPreKeyBundles. */
  async deviceBundle(): Promise<DeviceBundle> {
    return { deviceId: this.address.device, registrationId: this.registrationId, bundle: await this.bundle() };
  }

  /** An encoded envelope of `content` to `to` (a session is started from `bundle` when there is none yet). */
  async encryptTo(to: ProtocolAddress, content: Content, bundle?: PreKeyBundle): Promise<Uint8Array> {
    if (!(await this.sessions.hasSession(to))) {
      if (!bundle) throw new Error('no session with that device, and no bundle to start one');
      await this.sessions.processPreKeyBundle(to, bundle);
    }
    const ct = await this.sessions.encrypt(to, encodeContent(content));
    const type = ct.type === CiphertextType.PreKey ? EnvelopeType.PreKeyMessage : EnvelopeType.Message;
    return encodeEnvelope({ type, timestamp: content.timestamp, content: ct.body });
  }

  /** What an encoded envelope from `from` says (throws when it does not decrypt; undefined for a duplicate). */
  async open(from: ProtocolAddress, envelope: Uint8Array): Promise<Content | undefined> {
    const e = decodeEnvelope(envelope);
    const type = e.type === EnvelopeType.PreKeyMessage ? CiphertextType.PreKey : CiphertextType.Ratchet;
    const result = await this.sessions.decrypt(from, { type, body: e.content });
    return result.kind === 'duplicate' ? undefined : decodeContent(result.plaintext);
  }
}

/** A peer account: one identity, devices made on demand. */
export class PeerAccount {
  private readonly devices = new Map<number, PeerDevice>();

  private constructor(
    private readonly crypto: CryptoProvider,
    readonly accountId: string,
    readonly identity: IdentityKeyPair,
  ) {}

  /** `identity`: the account's identity key pair (our own, for another device of our account); a fresh one by default. */
  static async create(crypto: CryptoProvider, accountId: string, identity?: IdentityKeyPair): Promise<PeerAccount> {
    return new PeerAccount(crypto, accountId, identity ?? (await generateIdentityKeyPair(crypto)));
  }

  /** Device `deviceId` (created on first use, with registration id 1000 + deviceId unless given). */
  async device(deviceId: number, registrationId = 1000 + deviceId): Promise<PeerDevice> {
    let d = this.devices.get(deviceId);
    if (!d) {
      d = await PeerDevice.create(this.crypto, { account: this.accountId, device: deviceId }, this.identity, registrationId);
      this.devices.set(deviceId, d);
    }
    return d;
  }

  /** Device `deviceId` re-registered: new prekeys and registration id, no sessions, the same identity. */
  async reRegister(deviceId: number, registrationId: number): Promise<PeerDevice> {
    const d = await PeerDevice.create(this.crypto, { account: this.accountId, device: deviceId }, this.identity, registrationId);
    this.devices.set(deviceId, d);
    return d;
  }
}

/**
 * Stores a signed prekey, a last-resort Kyber prekey and one-time prekeys for this device in `store`, and returns a
 * bundle of it that uses the first one-time key (`oneTime` keys in all, ids 1…).
 */
export async function installPreKeys(
  store: ClientStore,
  crypto: CryptoProvider,
  identity: IdentityKeyPair,
  deviceId: number,
  oneTime = 1,
): Promise<PreKeyBundle> {
  const signed = await generateSignedPreKey(crypto, identity, 7, 0);
  const kyber = await generateKyberPreKey(crypto, identity, 8, true, 0);
  const oneTimeKeys = await generateOneTimePreKeys(crypto, 1, oneTime);
  await store.write((tx) => {
    tx.putSignedPreKey(signed);
    tx.putKyberPreKey(kyber);
    for (const k of oneTimeKeys) tx.putOneTimePreKey(k);
  });
  const first = oneTimeKeys[0];
  return {
    identityKey: identity.publicKey,
    deviceId,
    signedPreKey: { id: signed.id, publicKey: signed.keyPair.publicKey, signature: signed.signature },
    ...(first ? { oneTimePreKey: { id: first.id, publicKey: first.keyPair.publicKey } } : {}),
    kyberPreKey: { id: kyber.id, publicKey: kyber.keyPair.publicKey, signature: kyber.signature },
  };
}
