/**
 * Sealed sender on the client (issue 16; docs/protocol.md "Sealed sender", "Unidentified delivery"): what a device
 * needs to send a 1:1 envelope that names no sender to the server, and to open one.
 *
 * - The trust root: fetched once and pinned (kv), so a server cannot later swap the key its certificates chain to.
 * - This device's sender certificate: fetched, checked against the pinned root, kept until an hour before it expires.
 * - A recipient: the identity key our sessions pinned for the account (never the server's word), its published
 *   sealed-sender key (verified against that identity before use), and an access key — derived from the profile key
 *   they sent us, or any key when they take sealed envelopes from anyone. No profile key and not "from anyone": the
 *   send cannot be sealed.
 * - Our own profile key (its first one derived from the identity key pair, so every device of the account holds the
 *   same one without a word exchanged; a rotated one is kept in kv), its access key registered with the server with
 *   the user's choice of who may send sealed envelopes ("anyone", the default, or "contacts"), and whether a send
 *   that cannot be sealed may go identified (default yes).
 *
 * Nothing here is sent to the server but the access key and the choice (it has to check them), and the certificate
 * request (authenticated, as the certificate names the device anyway).
 */
import {
  ACCESS_KEY_LENGTH,
  PROFILE_KEY_LENGTH,
  decodeIdentityKey,
  decodeSenderCertificate,
  deriveAccessKey,
  deriveSealedSenderKeyPair,
  encodeIdentityKey,
  encodeIdentityKeyPair,
  constantTimeEqual,
  sealedSenderDecrypt,
  sealedSenderEncrypt,
  toHex,
  verifySealedSenderKey,
  verifySenderCertificate,
} from '@samizdat/protocol';
import type { CryptoProvider, IdentityKey, IdentityKeyPair, KeyPair, SealedInnerType, SenderCertificate, Unsealed } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { ClientStore } from '../storage/store.js';
import { fromBase64, toBase64 } from '../transport/base64.js';
import type { HttpApi } from '../transport/http-api.js';
import { publishSealedSenderKey } from './sealed-sender-key.js';

/** Who may send this account sealed envelopes: anyone, or only those it shared its profile key with. */
export type SealedSenderMode = 'anyone' | 'contacts';

export interface SealedSenderSettings {
  readonly mode: SealedSenderMode;
  /** A send that cannot be sealed (no access key, refused) goes identified instead of failing. */
  readonly allowIdentified: boolean;
}

export const DEFAULT_SEALED_SENDER_SETTINGS: SealedSenderSettings = { mode: 'anyone', allowIdentified: true };

/** How a 1:1 send went: sealed (the server does not learn the sender) or identified. */
export type DeliveryKind = 'sealed' | 'identified';

/** What a sealed send to one account needs. */
export interface SealedRecipient {
  readonly identity: IdentityKey;
  readonly sealedKey: Uint8Array;
  readonly accessKey: Uint8Array;
}

const KV = {
  trustRoot: 'sealedSender.trustRoot',
  certificate: 'sealedSender.certificate',
  settings: 'sealedSender.settings',
  accessPublished: 'sealedSender.accessPublished',
  profileKey: 'profile.key',
  /** SHA-256 (hex) of the profile keys this account has rotated away from: never taken back from a late message. */
  retiredProfileKeys: 'profile.retiredKeys',
} as const;
const MAX_RETIRED_PROFILE_KEYS = 50;

/** A certificate is renewed this long before it expires (they last a day). */
const RENEW_BEFORE_MS = 3_600_000;
/** A recipient's published key and "from anyone" are asked for again after this long. */
const RECIPIENT_TTL_MS = 3_600_000;
const PROFILE_KEY_INFO = new TextEncoder().encode('Samizdat profile key v1');

export interface SealedDeliveryHost {
  readonly store: ClientStore;
  readonly crypto: CryptoProvider;
  readonly identity: IdentityKeyPair;
  readonly api: Pick<HttpApi, 'getTrustRoot' | 'getSenderCertificate' | 'getAccount' | 'putUnidentifiedAccess' | 'putSealedSenderKey'>;
  /** This account's id. */
  accountId(): string;
  now(): number;
}

export class SealedDelivery {
  private certificate: SenderCertificate | undefined;
  private sealedKeyPair: Promise<KeyPair> | undefined;
  private readonly recipients = new Map<string, { at: number; identity: Uint8Array; sealedKey: Uint8Array | undefined; unrestricted: boolean }>();

  constructor(private readonly host: SealedDeliveryHost) {}

  // ---- our side ----

  /** The account's profile key: a rotated one from kv, else the first one, derived from the identity key pair. */
  async profileKey(): Promise<Uint8Array> {
    const stored = await this.host.store.getKv(KV.profileKey);
    if (stored !== undefined) {
      const key = fromBase64(stored);
      if (key?.length === PROFILE_KEY_LENGTH) return key;
    }
    return this.host.crypto.hkdfSha256(encodeIdentityKeyPair(this.host.identity), new Uint8Array(0), PROFILE_KEY_INFO, PROFILE_KEY_LENGTH);
  }

  /**
   * A new random profile key (after a block): stored, and its access key put on the server at once. Contacts learn
   * it from our next message to them (until then their sealed sends are refused and go identified, if they allow
   * it); our other devices from the sync copy of the block (adoptProfileKey); the profile is put on the server under
   * its new version by the caller.
   */
  async rotateProfileKey(): Promise<void> {
    await this.replaceProfileKey(this.host.crypto.randomBytes(PROFILE_KEY_LENGTH));
  }

  /**
   * The profile key another device of ours sent (it rotated it): ours from now on. True when it changed. A key this
   * account rotated away from is never taken back (a device that had not heard of the rotation yet still sends it).
   */
  async adoptProfileKey(key: Uint8Array): Promise<boolean> {
    if (key.length !== PROFILE_KEY_LENGTH || constantTimeEqual(key, await this.profileKey())) return false;
    if ((await this.retiredProfileKeys()).includes(toHex(await this.host.crypto.sha256(key)))) return false;
    // Who may send sealed is the account's: as the server holds it (the device that rotated set it), not this
    // device's last choice, which the access key put below would otherwise restore.
    const account = await this.host.api.getAccount(this.host.accountId());
    const mode = account.unrestrictedAccess === true ? 'anyone' : 'contacts';
    const settings = await this.settings();
    if (settings.mode !== mode) await this.host.store.write((tx) => tx.putKv(KV.settings, JSON.stringify({ ...settings, mode })));
    await this.replaceProfileKey(key);
    return true;
  }

  private async retiredProfileKeys(): Promise<string[]> {
    try {
      const parsed = JSON.parse((await this.host.store.getKv(KV.retiredProfileKeys)) ?? '[]') as unknown;
      return Array.isArray(parsed) ? parsed.filter((h): h is string => typeof h === 'string') : [];
    } catch {
      return [];
    }
  }

  private async replaceProfileKey(key: Uint8Array): Promise<void> {
    const old = toHex(await this.host.crypto.sha256(await this.profileKey()));
    const retired = [...(await this.retiredProfileKeys()), old].slice(-MAX_RETIRED_PROFILE_KEYS);
    await this.host.store.write((tx) => {
      tx.putKv(KV.profileKey, toBase64(key));
      tx.putKv(KV.retiredProfileKeys, JSON.stringify(retired));
    });
    await this.publishAccess();
  }

  async settings(): Promise<SealedSenderSettings> {
    const stored = await this.host.store.getKv(KV.settings);
    if (stored === undefined) return DEFAULT_SEALED_SENDER_SETTINGS;
    try {
      const parsed = JSON.parse(stored) as Partial<SealedSenderSettings>;
      return {
        mode: parsed.mode === 'contacts' ? 'contacts' : 'anyone',
        allowIdentified: parsed.allowIdentified !== false,
      };
    } catch {
      return DEFAULT_SEALED_SENDER_SETTINGS;
    }
  }

  /** Changes the settings on this device and tells the server (the mode is the account's: the last device to set it wins). */
  async setSettings(change: Partial<SealedSenderSettings>): Promise<SealedSenderSettings> {
    if (change.mode !== undefined && change.mode !== 'anyone' && change.mode !== 'contacts') {
      throw new ClientError(ClientErrorCode.InvalidArgument, 'sealed sender mode is "anyone" or "contacts"');
    }
    if (change.allowIdentified !== undefined && typeof change.allowIdentified !== 'boolean') {
      throw new ClientError(ClientErrorCode.InvalidArgument, 'allowIdentified is true or false');
    }
    const next = { ...(await this.settings()), ...change };
    await this.host.store.write((tx) => tx.putKv(KV.settings, JSON.stringify(next)));
    await this.publishAccess();
    return next;
  }

  /** The upkeep: our sealed-sender key and our access key with the mode, each put on the server once. */
  async publish(): Promise<void> {
    await publishSealedSenderKey({ store: this.host.store, api: this.host.api, crypto: this.host.crypto, identity: this.host.identity });
    await this.publishAccess();
    // Pinned now, on the first connection, rather than when the first sealed envelope arrives.
    await this.trustRoot();
  }

  private async publishAccess(): Promise<void> {
    const accessKey = await deriveAccessKey(this.host.crypto, await this.profileKey());
    const { mode } = await this.settings();
    const published = `${toBase64(accessKey)}:${mode}`;
    if ((await this.host.store.getKv(KV.accessPublished)) === published) return;
    await this.host.api.putUnidentifiedAccess(accessKey, mode === 'anyone');
    await this.host.store.write((tx) => tx.putKv(KV.accessPublished, published));
  }

  /** The server's trust root, pinned the first time it is asked for. */
  async trustRoot(): Promise<Uint8Array> {
    const pinned = await this.host.store.getKv(KV.trustRoot);
    const key = pinned !== undefined ? fromBase64(pinned) : undefined;
    if (key?.length === 32) return key;
    const fetched = await this.host.api.getTrustRoot();
    await this.host.store.write((tx) => tx.putKv(KV.trustRoot, toBase64(fetched)));
    return fetched;
  }

  /** This device's sender certificate, renewed an hour before it expires; checked against the pinned trust root. */
  async senderCertificate(): Promise<SenderCertificate> {
    const now = this.host.now();
    if (this.certificate && this.certificate.expires - RENEW_BEFORE_MS > now) return this.certificate;
    const stored = await this.host.store.getKv(KV.certificate);
    const cached = stored !== undefined ? this.decodeCertificate(stored) : undefined;
    if (cached && cached.expires - RENEW_BEFORE_MS > now) return (this.certificate = cached);
    const { certificate: bytes } = await this.host.api.getSenderCertificate();
    let certificate: SenderCertificate;
    try {
      certificate = decodeSenderCertificate(bytes);
      await verifySenderCertificate(this.host.crypto, certificate, await this.trustRoot(), now);
    } catch {
      throw new ClientError(ClientErrorCode.BadResponse, 'GET /v1/certificate/delivery: the certificate does not verify under the pinned trust root');
    }
    if (!constantTimeEqual(encodeIdentityKey(certificate.identityKey), encodeIdentityKey(this.host.identity.publicKey))) {
      throw new ClientError(ClientErrorCode.BadResponse, 'GET /v1/certificate/delivery: the certificate is for another identity key');
    }
    await this.host.store.write((tx) => tx.putKv(KV.certificate, toBase64(certificate.encoded)));
    return (this.certificate = certificate);
  }

  private decodeCertificate(text: string): SenderCertificate | undefined {
    const bytes = fromBase64(text);
    if (!bytes) return undefined;
    try {
      return decodeSenderCertificate(bytes);
    } catch {
      return undefined;
    }
  }

  // ---- their side ----

  /**
   * What a sealed send to `accountId` needs, or undefined when it cannot be sealed: we hold no identity for them yet
   * (no session), they published no sealed-sender key (or one their identity did not sign), or we have neither their
   * profile key nor their "from anyone".
   */
  async recipient(accountId: string, profileKey: Uint8Array | undefined): Promise<SealedRecipient | undefined> {
    const pinned = await this.host.store.getIdentity(accountId);
    if (!pinned) return undefined;
    let known = this.recipients.get(accountId);
    if (!known || this.host.now() - known.at > RECIPIENT_TTL_MS || !constantTimeEqual(known.identity, pinned)) {
      const account = await this.host.api.getAccount(accountId);
      let sealedKey: Uint8Array | undefined;
      // The server's identity key is not trusted: the key must be signed by the one our sessions pinned.
      if (account.sealedSenderKey && constantTimeEqual(account.identityKey, pinned)) {
        sealedKey = await verifySealedSenderKey(this.host.crypto, decodeIdentityKey(pinned), account.sealedSenderKey).catch(() => undefined);
      }
      known = { at: this.host.now(), identity: pinned, sealedKey, unrestricted: account.unrestrictedAccess === true };
      this.recipients.set(accountId, known);
    }
    if (!known.sealedKey) return undefined;
    let accessKey: Uint8Array;
    if (profileKey) accessKey = await deriveAccessKey(this.host.crypto, profileKey);
    else if (known.unrestricted) accessKey = this.host.crypto.randomBytes(ACCESS_KEY_LENGTH);
    else return undefined;
    return { identity: decodeIdentityKey(pinned), sealedKey: known.sealedKey, accessKey };
  }

  /** Forgets what we know of `accountId` (its access was refused: ask again next time). */
  forget(accountId: string): void {
    this.recipients.delete(accountId);
  }

  /** Seals one inner session message to `recipient`. */
  async seal(recipient: SealedRecipient, innerType: SealedInnerType, inner: Uint8Array): Promise<Uint8Array> {
    return sealedSenderEncrypt(this.host.crypto, {
      recipientIdentity: recipient.identity,
      recipientSealedKey: recipient.sealedKey,
      senderIdentity: this.host.identity,
      certificate: await this.senderCertificate(),
      innerType,
      inner,
    });
  }

  /** Opens a sealed envelope's content addressed to us (ProtocolError when it does not open or verify). */
  async unseal(content: Uint8Array): Promise<Unsealed> {
    this.sealedKeyPair ??= deriveSealedSenderKeyPair(this.host.crypto, this.host.identity);
    return sealedSenderDecrypt(this.host.crypto, content, {
      identity: this.host.identity,
      sealedKeyPair: await this.sealedKeyPair,
      trustRoot: await this.trustRoot(),
      now: this.host.now(),
    });
  }
}
