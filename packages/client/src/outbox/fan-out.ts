/**
 * Device fan-out (Sesame, signal.org/docs/specifications/sesame §3.1): a content is encrypted once per current device
 * of the recipient account (and of our own account, for sync copies), with a session per device; the device list
 * is what we last learned, and the server's DEVICE_LIST_MISMATCH brings it in line (removed devices dropped,
 * re-registered ones restarted, new ones fetched) before the send is retried. Every send runs inside the client's
 * serial queue, as the sessions require (SessionManager: calls for one address must not interleave).
 */
import { CiphertextType, EnvelopeType, SealedInnerType, SessionManager, encodeEnvelope } from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair } from '@samizdat/protocol';
import type { Content } from '../content/content.js';
import type { Profile } from '../content/content-types.js';
import { contactState } from '../contacts/requests.js';
import type { DeliveryKind, SealedDelivery } from '../sealed/sealed-delivery.js';
import { fromBase64 } from '../transport/base64.js';
import { encodeContent } from '../content/content.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { ClientEvents } from '../events.js';
import { systemNotice } from '../notices.js';
import { StagedProtocolStore } from '../storage/staged-protocol-store.js';
import type { AccountRecord, ClientStore, ContactRecord, StoreTx } from '../storage/store.js';
import type { DeliverySocket } from '../transport/delivery-socket.js';
import type { HttpApi, OutgoingEnvelope } from '../transport/http-api.js';
import { mismatchOf } from '../transport/http-api.js';
import type { Emitter } from '../util/emitter.js';

/** One device's copy of a content, encrypted under its session, before it is wrapped in an envelope. */
interface InnerCopy {
  readonly deviceId: number;
  readonly registrationId: number;
  readonly prekey: boolean;
  readonly body: Uint8Array;
}

/** A send refused for a changed device list is repaired and retried this many times in all. */
const MAX_SEND_ATTEMPTS = 4;

export interface FanOutHost {
  readonly store: ClientStore;
  readonly crypto: CryptoProvider;
  readonly identity: IdentityKeyPair;
  readonly api: HttpApi;
  readonly events: Emitter<ClientEvents>;
  readonly sealed: SealedDelivery;
  /** When our encrypted profile last changed (contacts/profiles.ts), announced with the profile key. */
  profileUpdated?(): Promise<number | undefined>;
  account(): AccountRecord;
  now(): number;
  /** The delivery socket, while the client runs. */
  socket(): DeliverySocket | undefined;
}

export class DeviceFanOut {
  constructor(private readonly host: FanOutHost) {}

  /** A session manager over a fresh staged view of the store (commit it with commitStaged). */
  sessions(): { staged: StagedProtocolStore; sessions: SessionManager } {
    const staged = new StagedProtocolStore(this.host.store, this.host.identity);
    return { staged, sessions: new SessionManager(this.host.crypto, staged) };
  }

  /**
   * Encrypts `content` once per current device of `accountId` (our own account: per other device) and sends it in
   * one request: sealed when the recipient can be reached so (sealed/sealed-delivery.ts), else identified if the
   * user allows it; our own devices' copies go identified (they link no two accounts). On DEVICE_LIST_MISMATCH the
   * sessions are brought in line (removed devices dropped, re-registered ones restarted, new ones fetched) and the
   * send is retried. Resolves with how it went.
   */
  async sendToAccount(accountId: string, content: Content, own: boolean): Promise<DeliveryKind> {
    const withProfile: Content = { ...content, profile: await this.profileFor(accountId, own) };
    const plaintext = encodeContent(withProfile);
    for (let attempt = 1; ; attempt++) {
      let devices = await this.knownDevices(accountId, own);
      if (devices === undefined) {
        await this.fetchSessions(accountId, '*', own);
        devices = (await this.knownDevices(accountId, own)) ?? new Map();
      }
      // No other device of ours that we know of: the sync copy still goes, empty, so that the server, which knows
      // the account's devices, answers DEVICE_LIST_MISMATCH if one was linked since (then we fetch it and retry).
      if (devices.size === 0 && !own) return 'identified';
      // A session retired on a peer's retry request whose new bundle could not be fetched then: fetch it now.
      const unready = await new SessionManager(this.host.crypto, new StagedProtocolStore(this.host.store, this.host.identity)).missingSessions(
        [...devices.keys()].map((device) => ({ account: accountId, device })),
      );
      for (const address of unready) {
        try {
          await this.fetchSessions(accountId, address.device, own);
        } catch (err) {
          if (!ClientError.isServer(err, 'DEVICE_NOT_FOUND')) throw err;
          devices.delete(address.device); // Removed since: the server's device-list check tells us the rest.
        }
      }
      const staged = new StagedProtocolStore(this.host.store, this.host.identity);
      const sessions = new SessionManager(this.host.crypto, staged);
      const inner: InnerCopy[] = [];
      for (const [deviceId, registrationId] of devices) {
        const ct = await sessions.encrypt({ account: accountId, device: deviceId }, plaintext);
        inner.push({ deviceId, registrationId, prekey: ct.type === CiphertextType.PreKey, body: ct.body });
      }
      // Chain keys advanced: store them before anything leaves, so that no key is ever used twice.
      await this.host.store.write((tx) => staged.flush(tx));
      try {
        return await this.deliver(accountId, content.timestamp, inner, own);
      } catch (err) {
        const mismatch = mismatchOf(err);
        if (!mismatch || attempt >= MAX_SEND_ATTEMPTS) throw err;
        await this.repairDevices(accountId, own, mismatch);
      }
    }
  }

  /**
   * What we say about ourselves in a content: the username, and the profile key to our own devices and to accounts
   * the user talks with (never to a message request or a blocked account: it would let them send sealed).
   */
  private async profileFor(accountId: string, own: boolean): Promise<Profile> {
    const username = this.host.account().username;
    const share = own || contactState(this.host.account().accountId, accountId, await this.host.store.getContact(accountId)) === 'accepted';
    const updated = share ? await this.host.profileUpdated?.() : undefined;
    return {
      ...(username !== undefined ? { username } : {}),
      ...(share ? { profileKey: await this.host.sealed.profileKey() } : {}),
      ...(updated !== undefined ? { profileUpdated: updated } : {}),
    };
  }

  /** One send of the encrypted copies: sealed if it can be (and is let in), else identified where allowed. */
  private async deliver(accountId: string, timestamp: number, inner: readonly InnerCopy[], own: boolean): Promise<DeliveryKind> {
    if (!own) {
      const profileKey = (await this.host.store.getContact(accountId))?.profileKey;
      const recipient = await this.host.sealed.recipient(accountId, profileKey !== undefined ? fromBase64(profileKey) : undefined);
      if (recipient) {
        const messages: OutgoingEnvelope[] = [];
        for (const m of inner) {
          const sealed = await this.host.sealed.seal(recipient, m.prekey ? SealedInnerType.PreKeyMessage : SealedInnerType.Message, m.body);
          messages.push({ deviceId: m.deviceId, registrationId: m.registrationId, envelope: encodeEnvelope({ type: EnvelopeType.SealedSender, timestamp, content: sealed }) });
        }
        try {
          await this.host.api.sendSealedMessages(accountId, recipient.accessKey, messages);
          return 'sealed';
        } catch (err) {
          // Their profile key changed (they rotated it) or they stopped taking sealed envelopes from anyone.
          if (!ClientError.isServer(err, 'INVALID_ACCESS_KEY')) throw err;
          this.host.sealed.forget(accountId);
        }
      }
      if (!(await this.host.sealed.settings()).allowIdentified) {
        throw new ClientError(ClientErrorCode.SealedSenderUnavailable, 'this send cannot be sealed, and sending identified is turned off');
      }
    }
    const messages = inner.map((m) => ({
      deviceId: m.deviceId,
      registrationId: m.registrationId,
      envelope: encodeEnvelope({ type: m.prekey ? EnvelopeType.PreKeyMessage : EnvelopeType.Message, timestamp, content: m.body }),
    }));
    await this.postMessages(accountId, messages);
    return 'identified';
  }

  /**
   * One send: over the delivery socket while it is open (no HTTP request per message), else over HTTP. Both fail
   * alike (a refusal is the same SERVER_ERROR), except that a send the socket could not confirm (SERVER_UNREACHABLE:
   * closed before the answer, no answer in time) goes again over HTTP. The server may have stored the first one:
   * the recipient then gets the same envelopes twice, and the second copy is a ratchet duplicate there (its message
   * key is used up), acknowledged silently — exactly once holds.
   */
  async postMessages(accountId: string, messages: readonly OutgoingEnvelope[]): Promise<void> {
    await this.overSocketOrHttp(
      (socket) => socket.send(accountId, messages),
      () => this.host.api.sendMessages(accountId, messages),
    );
  }

  /** `overSocket` while the delivery socket is open; `overHttp` without one, or when the socket could not confirm. */
  async overSocketOrHttp(overSocket: (socket: DeliverySocket) => Promise<unknown>, overHttp: () => Promise<unknown>): Promise<void> {
    const socket = this.host.socket();
    if (socket?.state === 'open') {
      try {
        await overSocket(socket);
        return;
      } catch (err) {
        if (!ClientError.is(err, ClientErrorCode.ServerUnreachable)) throw err;
      }
    }
    await overHttp();
  }

  /** The devices of `accountId` we encrypt to (deviceId → registrationId); `own`: without this device. */
  async knownDevices(accountId: string, own: boolean): Promise<Map<number, number> | undefined> {
    const list = await this.host.store.getDeviceList(accountId);
    if (list === undefined) return undefined;
    const map = new Map<number, number>(list.devices.map((d) => [d.deviceId, d.registrationId]));
    if (own) map.delete(this.host.account().deviceId);
    return map;
  }

  /** Synchronous: called inside a store batch. */
  saveKnownDevices(tx: StoreTx, accountId: string, devices: ReadonlyMap<number, number>): void {
    tx.putDeviceList({ accountId, devices: [...devices].map(([deviceId, registrationId]) => ({ deviceId, registrationId })) });
  }

  /** Fetches prekey bundles and starts sessions (PQXDH) with the devices of `accountId` (`*`: all of them). */
  async fetchSessions(accountId: string, deviceId: number | '*', own: boolean): Promise<void> {
    let result;
    try {
      result = await this.host.api.getPreKeyBundles(accountId, deviceId);
    } catch (err) {
      if (own && deviceId === '*' && ClientError.isServer(err, 'DEVICE_NOT_FOUND')) result = { identityKey: new Uint8Array(), devices: [] };
      else throw err;
    }
    const staged = new StagedProtocolStore(this.host.store, this.host.identity);
    const sessions = new SessionManager(this.host.crypto, staged);
    const known = (await this.knownDevices(accountId, false)) ?? new Map<number, number>();
    for (const d of result.devices) {
      if (own && d.deviceId === this.host.account().deviceId) continue;
      await sessions.processPreKeyBundle({ account: accountId, device: d.deviceId }, d.bundle);
      known.set(d.deviceId, d.registrationId);
    }
    await this.commitStaged(staged, (tx) => this.saveKnownDevices(tx, accountId, known));
  }

  async repairDevices(accountId: string, own: boolean, mismatch: { missingDevices: number[]; extraDevices: number[]; staleDevices: number[] }) {
    const known = (await this.knownDevices(accountId, false)) ?? new Map<number, number>();
    await this.host.store.write((tx) => {
      // A removed device (extra) gets nothing more, but its session stays: what it sent before it was removed may
      // still be queued for us, and decrypts only with it. A re-registered one (stale) starts afresh.
      for (const device of mismatch.extraDevices) known.delete(device);
      for (const device of mismatch.staleDevices) {
        tx.putSession({ account: accountId, device }, undefined);
        known.delete(device);
      }
      this.saveKnownDevices(tx, accountId, known);
    });
    for (const device of [...mismatch.missingDevices, ...mismatch.staleDevices]) {
      if (own && device === this.host.account().deviceId) continue;
      await this.fetchSessions(accountId, device, own);
    }
  }

  /** Applies a staged protocol store and extra writes atomically, then reports identity changes. */
  async commitStaged(staged: StagedProtocolStore, extra: (tx: StoreTx) => void): Promise<void> {
    const changes = staged.identityChanges.filter((c) => c.replaced && c.account !== this.host.account().accountId);
    const contacts = new Map<string, ContactRecord | undefined>();
    for (const c of changes) contacts.set(c.account, await this.host.store.getContact(c.account));
    const now = this.host.now();
    const notices = changes.map((c) => systemNotice(this.host.crypto, now, c.account, c.account, 0, now, 'identity-changed'));
    await this.host.store.write((tx) => {
      staged.flush(tx);
      extra(tx);
      for (const [accountId, contact] of contacts) {
        tx.putContact({ expireTimer: 0, ...contact, accountId, identityChangedAt: now, verified: false });
      }
      for (const n of notices) tx.putMessage(n);
    });
    for (const [accountId, contact] of contacts) {
      this.host.events.emit('identity-changed', { accountId, username: contact?.username });
    }
    for (const n of notices) this.host.events.emit('message', n);
  }
}
