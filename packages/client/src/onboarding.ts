/**
 * Onboarding: registering an account with this profile as its first device, linking this profile as a new device
 * of an existing account (the new device's side and the existing device's side, docs/protocol.md "Linking a
 * device"), and opening a stored profile (with its one-time upgrades).
 */
import type { ReceiptDelay } from './outbox/delivery-receipts.js';
import {
  MAX_PROVISIONING_PLAINTEXT,
  decodeIdentityKeyPair,
  decodeLinkCode,
  encodeBase64,
  encodeIdentityKey,
  encodeIdentityKeyPair,
  encodeLinkCode,
  generateIdentityKeyPair,
  generateProvisioningKeyPair,
  openProvisioningMessage,
  sealProvisioningMessage,
} from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair, MlsEngineOptions } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from './errors.js';
import { KYBER_ONE_TIME_BATCH, ONE_TIME_BATCH, generatePreKeys } from './keys/prekeys.js';
import { decodeProvisioningMessage, encodeProvisioningMessage } from './provisioning/provisioning-message.js';
import type { AccountRecord, ClientStore, ContactRecord } from './storage/store.js';
import type { Connector } from './transport/connector.js';
import { HttpApi } from './transport/http-api.js';
import { openProvisioningSocket } from './transport/provisioning-socket.js';

/** On a linked device: account ids of the contacts the provisioning message brought (JSON array). */
export const EARLIER_CONTACTS_KV = 'link.earlierContacts';
/** Set once acceptEarlierContacts has run on this profile. */
const REQUESTS_MIGRATED_KV = 'requests.migrated';

export interface ClientOptions {
  readonly store: ClientStore;
  readonly crypto: CryptoProvider;
  readonly connector: Connector;
  /** The ts-mls crypto provider for groups: `nodeMlsCryptoProvider` in Node (fast); default: ts-mls's own (browsers). */
  readonly mlsCryptoProvider?: MlsEngineOptions['mlsCryptoProvider'];
  /** Clock (ms); tests replace it. */
  readonly now?: () => number;
  /**
   * How long a delivery receipt waits, drawn uniformly from [minMs, maxMs] for each batch (default 1–10 s:
   * outbox/delivery-receipts.ts); `{ minMs: 0, maxMs: 0 }` sends each at once.
   */
  readonly receiptDelay?: ReceiptDelay;
}

export interface RegisterOptions extends ClientOptions {
  readonly serverUrl: string;
  readonly username?: string;
}

export interface LinkOptions extends ClientOptions {
  readonly serverUrl: string;
  /** Called with the code (and QR payload) the user carries to an existing device of the account. */
  readonly onCode: (code: string) => void;
  /** Give up waiting for the existing device after this long (default: the server's 10 minutes). */
  readonly signal?: AbortSignal;
}

/** The stored account, after the profile's one-time upgrades; NOT_REGISTERED if there is none. */
export async function openAccount(store: ClientStore): Promise<AccountRecord> {
  const account = await store.getAccount();
  if (!account) throw new ClientError(ClientErrorCode.NotRegistered, 'this profile has no account: register or link it first');
  await acceptEarlierContacts(store);
  return account;
}

/** Creates an account (and its first device) on `serverUrl` and stores it in the profile. */
export async function registerAccount(options: RegisterOptions): Promise<AccountRecord> {
  const { store, crypto, connector } = options;
  if (await store.getAccount()) throw new ClientError(ClientErrorCode.AlreadyRegistered, 'this profile already holds an account');
  const serverUrl = normalizeServerUrl(options.serverUrl);
  const identity = await generateIdentityKeyPair(crypto);
  const device = await newDeviceKeys(crypto, store, identity);
  const api = new HttpApi({ serverUrl, connector });
  const { accountId, deviceId } = await api.register({
    identityKey: encodeIdentityKey(identity.publicKey),
    ...(options.username !== undefined ? { username: options.username } : {}),
    device: device.upload,
  });
  const account = accountRecord(serverUrl, { accountId, deviceId }, device.upload, encodeIdentityKeyPair(identity), options.username, options.now);
  await store.write((tx) => {
    device.stage(tx);
    tx.putAccount(account);
    tx.putIdentity(accountId, encodeIdentityKey(identity.publicKey));
  });
  return account;
}

/**
 * Links this (new) device to an existing account: shows a code through `onCode`, waits for an existing device of
 * the account to send the end-to-end encrypted provisioning message (`addDevice`), then registers this device.
 */
export async function linkAccount(options: LinkOptions): Promise<AccountRecord> {
  const { store, crypto, connector } = options;
  if (await store.getAccount()) throw new ClientError(ClientErrorCode.AlreadyRegistered, 'this profile already holds an account');
  const serverUrl = normalizeServerUrl(options.serverUrl);
  const keyPair = await generateProvisioningKeyPair();
  const socket = await openProvisioningSocket(connector, serverUrl);
  const abort = () => socket.close();
  options.signal?.addEventListener('abort', abort);
  let sealed: Uint8Array;
  try {
    options.onCode(encodeLinkCode({ address: socket.address, publicKey: keyPair.publicKey }));
    sealed = await socket.message;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    socket.close();
  }
  let plaintext: Uint8Array;
  try {
    plaintext = await openProvisioningMessage(keyPair, socket.address, sealed);
  } catch {
    throw new ClientError(ClientErrorCode.LinkFailed, 'the provisioning message could not be decrypted');
  }
  const message = decodeProvisioningMessage(plaintext);
  const identity = decodeIdentityKeyPair(message.identityKeyPair);
  const device = await newDeviceKeys(crypto, store, identity);
  const api = new HttpApi({ serverUrl, connector });
  const { accountId, deviceId } = await api.linkDevice({ code: message.linkCode, ...device.upload });
  if (accountId !== message.accountId) throw new ClientError(ClientErrorCode.LinkFailed, 'the server linked this device to a different account');
  const account = accountRecord(serverUrl, { accountId, deviceId }, device.upload, message.identityKeyPair, message.username, options.now);
  await store.write((tx) => {
    device.stage(tx);
    tx.putAccount(account);
    tx.putIdentity(accountId, encodeIdentityKey(identity.publicKey));
    for (const c of message.contacts) {
      tx.putContact({
        accountId: c.accountId,
        ...(c.username !== undefined ? { username: c.username } : {}),
        verified: c.verified,
        expireTimer: 0,
        ...(c.accepted ? { accepted: true } : {}),
        ...(c.blocked ? { blocked: true } : {}),
      });
    }
    // The people the account talked with before this device existed: their conversations start here with a line
    // saying that the earlier messages are not on this device (historyNotice).
    tx.putKv(EARLIER_CONTACTS_KV, JSON.stringify(message.contacts.map((c) => c.accountId)));
  });
  return account;
}

export function apiFor(connector: Connector, account: AccountRecord): HttpApi {
  return new HttpApi({
    serverUrl: account.serverUrl,
    connector,
    credentials: { accountId: account.accountId, deviceId: account.deviceId, password: account.password },
  });
}

/** The account record of this device, as register and link store it. */
function accountRecord(
  serverUrl: string,
  address: { accountId: string; deviceId: number },
  upload: { password: string; registrationId: number },
  identityKeyPair: Uint8Array,
  username: string | undefined,
  now: (() => number) | undefined,
): AccountRecord {
  return {
    serverUrl,
    ...address,
    password: upload.password,
    registrationId: upload.registrationId,
    ...(username !== undefined ? { username } : {}),
    identityKeyPair,
    createdAt: (now ?? Date.now)(),
  };
}

async function newDeviceKeys(crypto: CryptoProvider, store: ClientStore, identity: IdentityKeyPair) {
  const { batch, stage } = await generatePreKeys(crypto, store, identity, {
    signed: true,
    lastResort: true,
    oneTime: ONE_TIME_BATCH,
    kyberOneTime: KYBER_ONE_TIME_BATCH,
  });
  const password = encodeBase64(crypto.randomBytes(24), { url: true });
  const r = crypto.randomBytes(4);
  const registrationId = 1 + ((((r[0] as number) << 24) | ((r[1] as number) << 16) | ((r[2] as number) << 8) | (r[3] as number)) >>> 0) % 0x7ffffffe;
  if (!batch.signedPreKey || !batch.kyberLastResortPreKey) throw new Error('prekey generation returned no signed keys');
  return {
    upload: {
      registrationId,
      password,
      signedPreKey: batch.signedPreKey,
      kyberLastResortPreKey: batch.kyberLastResortPreKey,
      oneTimePreKeys: batch.oneTimePreKeys,
      kyberPreKeys: batch.kyberPreKeys,
    },
    stage,
  };
}

/** Existing-device side of linking: sends the account's keys, end-to-end encrypted, to the new device showing `code`. */
export async function sendProvisioning(device: { store: ClientStore; api: HttpApi; account: AccountRecord }, code: string): Promise<void> {
  let target: { address: string; publicKey: Uint8Array };
  try {
    target = decodeLinkCode(code);
  } catch {
    throw new ClientError(ClientErrorCode.InvalidArgument, 'that is not a device link code (copy it exactly as the new device shows it)');
  }
  const { code: linkCode } = await device.api.createLinkCode();
  // Blocked, verified, then accepted contacts first; as many as fit the relay's 64 KiB limit (the new device looks
  // others up when needed, and holds their messages as requests).
  const rank = (c: ContactRecord) => (c.blocked ? 4 : 0) + (c.verified ? 2 : 0) + (c.accepted ? 1 : 0);
  let contacts = (await device.store.listContacts()).sort((a, b) => rank(b) - rank(a));
  const encode = () =>
    encodeProvisioningMessage({
      accountId: device.account.accountId,
      identityKeyPair: device.account.identityKeyPair,
      linkCode,
      ...(device.account.username !== undefined ? { username: device.account.username } : {}),
      contacts: contacts.map((c) => ({
        accountId: c.accountId,
        verified: c.verified,
        ...(c.username !== undefined ? { username: c.username } : {}),
        ...(c.accepted ? { accepted: true } : {}),
        ...(c.blocked ? { blocked: true } : {}),
      })),
    });
  let message = encode();
  while (message.length > MAX_PROVISIONING_PLAINTEXT && contacts.length > 0) {
    contacts = contacts.slice(0, Math.floor(contacts.length / 2));
    message = encode();
  }
  const sealed = await sealProvisioningMessage(target.publicKey, target.address, message);
  await device.api.putProvisioning(target.address, sealed);
}

/**
 * Profiles from before message requests: everyone the account had written to is accepted, once, so that no
 * existing conversation turns into a request.
 */
async function acceptEarlierContacts(store: ClientStore): Promise<void> {
  if ((await store.getKv(REQUESTS_MIGRATED_KV)) !== undefined) return;
  const accepted: ContactRecord[] = [];
  for (const contact of await store.listContacts()) {
    if (contact.accepted || contact.blocked) continue;
    const history = await store.listMessages(contact.accountId, { limit: 1000 });
    if (history.some((m) => m.direction === 'outgoing' && m.kind === 'message')) accepted.push({ ...contact, accepted: true });
  }
  await store.write((tx) => {
    for (const c of accepted) tx.putContact(c);
    tx.putKv(REQUESTS_MIGRATED_KV, '1');
  });
}


/** `http(s)://host[:port]` without a trailing slash; INVALID_ARGUMENT otherwise. */
export function normalizeServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClientError(ClientErrorCode.InvalidArgument, `"${text}" is not a server URL (like https://chat.example.org)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientError(ClientErrorCode.InvalidArgument, 'the server URL must start with http:// or https://');
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}
