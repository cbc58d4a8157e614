/**
 * The server's HTTP API (docs/api.md "Routes"), one typed method per route the client uses, over a Connector.
 *
 *   const api = new HttpApi({ connector: nodeConnector(), serverUrl: 'https://samizdat.example', credentials });
 *   const { ids } = await api.sendMessages(bob.accountId, [{ deviceId: 1, registrationId, envelope }]);
 *
 * Failures are ClientErrors: no answer (refused, DNS, proxy, timeout) → SERVER_UNREACHABLE; an error body
 * `{ code, message, …details }` → SERVER_ERROR with `server: { code, status, details }` (see `mismatchOf` for
 * DEVICE_LIST_MISMATCH); an answer that is not what the API promises → BAD_RESPONSE. The server is untrusted input:
 * every field used is checked (type, range, length) before it leaves this module. Error messages name the route
 * pattern, never a URL, a password, key material or message bytes; the server's own message text is not repeated
 * either (it could echo anything back).
 */
import { ACCESS_KEY_LENGTH, IDENTITY_KEY_LENGTH, MAX_ACK_IDS, MAX_PROVISIONING_BODY_BYTES, PROFILE_FIELDS, PROFILE_VERSION_LENGTH, decodeIdentityKey, toHex } from '@samizdat/protocol';
import type { IdentityKey, PreKeyBundle, ProfileField } from '@samizdat/protocol';
import { ClientError } from '../errors.js';
import { toBase64 } from './base64.js';
import type { Connector } from './connector.js';
import type { Credentials } from './endpoint.js';
import { ACCOUNT_ID, checkAccountId, checkCredentials, checkDeviceId, isDeviceId, parseServerUrl } from './endpoint.js';
import { HttpExchange } from './http-exchange.js';
import {
  ATTACHMENT_ID,
  DEFAULT_ATTACHMENT_TIMEOUT_MS,
  DEFAULT_MAX_ATTACHMENT_BYTES,
  DEFAULT_TIMEOUT_MS,
  GROUP_ID,
  LINK_CODE,
  MAX_DEVICES_PER_SEND,
  MAX_KEY_ID,
  MAX_REGISTRATION_ID,
  MAX_U64,
  MAX_WAIT_SECONDS,
  MLKEM1024_PUBLIC_KEY_BYTES,
  PROVISIONING_ADDRESS,
  SIGNATURE_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  badResponse,
  GROUP_SEND_KEY_BYTES,
  checkGroupId,
  checkSendKeyHash,
  checkIdentityKey,
  checkSend,
  contentLength,
  identityKeyOf,
  sealedSenderKeyOf,
  invalidArgument,
  keysJson,
  newDeviceJson,
} from './api-checks.js';
import type { Fields } from './api-checks.js';
import type {
  AccountKey,
  DeviceAddress,
  DeviceBundle,
  DeviceInfo,
  DownloadOptions,
  FetchMessagesOptions,
  HttpApiOptions,
  KeyUpload,
  LinkRequest,
  Me,
  OutgoingEnvelope,
  PreKeyBundles,
  ProgressCallback,
  ReceivedEnvelope,
  RegisterRequest,
  StoredAttachment,
  TransferOptions,
} from './api-types.js';

export * from './api-types.js';
export { checkGroupId, checkSend, mismatchOf, staleEpochOf } from './api-checks.js';

/** The encrypted fields of a profile (each nonce || AES-256-GCM ciphertext; @samizdat/protocol profile-cipher.ts). */
export type EncryptedProfileFields = { readonly [K in ProfileField]?: Uint8Array };

export class HttpApi {
  private readonly connector: Connector;
  private readonly server: URL;
  private readonly timeoutMs: number;
  private readonly attachmentTimeoutMs: number;
  private readonly http: HttpExchange;
  readonly serverUrl: string;
  readonly credentials: Credentials | undefined;

  constructor(private readonly options: HttpApiOptions) {
    this.connector = options.connector;
    this.serverUrl = options.serverUrl;
    this.server = parseServerUrl(options.serverUrl);
    if (options.credentials) checkCredentials(options.credentials);
    this.credentials = options.credentials;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.attachmentTimeoutMs = options.attachmentTimeoutMs ?? DEFAULT_ATTACHMENT_TIMEOUT_MS;
    this.http = new HttpExchange(this.connector, this.server, this.timeoutMs, this.credentials);
  }

  /** The same API with a device's login (after register or linkDevice). */
  withCredentials(credentials: Credentials): HttpApi {
    return new HttpApi({ ...this.options, credentials });
  }

  // -- accounts --

  /** POST /v1/accounts: creates the account and its device 1 with its prekeys. */
  async register(request: RegisterRequest): Promise<DeviceAddress> {
    const route = 'POST /v1/accounts';
    checkIdentityKey(request.identityKey);
    const json = {
      identityKey: toBase64(request.identityKey),
      ...(request.username !== undefined ? { username: request.username } : {}),
      device: newDeviceJson(request.device),
    };
    const body = await this.http.json({ route, method: 'POST', path: '/v1/accounts', auth: false, json });
    return { accountId: body.string('accountId', ACCOUNT_ID), deviceId: body.integer('deviceId', 1, 1) };
  }

  /** GET /v1/accounts/me: the authenticated account and device. */
  async me(): Promise<Me> {
    const route = 'GET /v1/accounts/me';
    const body = await this.http.json({ route, method: 'GET', path: '/v1/accounts/me', auth: true });
    const me = {
      accountId: body.string('accountId', ACCOUNT_ID),
      deviceId: body.integer('deviceId', 1, Number.MAX_SAFE_INTEGER),
      identityKey: identityKeyOf(route, body),
      hasUsername: body.boolean('hasUsername'),
    };
    const credentials = this.http.requireCredentials(route);
    if (me.accountId !== credentials.accountId || me.deviceId !== credentials.deviceId) throw badResponse(route, 'names another device');
    return me;
  }

  /** PUT /v1/accounts/me/username (SERVER_ERROR USERNAME_TAKEN or INVALID_USERNAME when refused). */
  async setUsername(username: string): Promise<void> {
    await this.http.noContent({ route: 'PUT /v1/accounts/me/username', method: 'PUT', path: '/v1/accounts/me/username', auth: true, json: { username } });
  }

  /** PUT /v1/accounts/me/sealed-sender-key: the account's published sealed-sender key (sealed/sealed-sender-key.ts). */
  /** PUT /v1/accounts/me/unidentified-access: the access key sealed sends must present, and "from anyone". */
  async putUnidentifiedAccess(accessKey: Uint8Array, unrestricted: boolean): Promise<void> {
    if (accessKey.length !== ACCESS_KEY_LENGTH) throw invalidArgument(`an access key is ${ACCESS_KEY_LENGTH} bytes`);
    await this.http.noContent({
      route: 'PUT /v1/accounts/me/unidentified-access',
      method: 'PUT',
      path: '/v1/accounts/me/unidentified-access',
      auth: true,
      json: { accessKey: toBase64(accessKey), unrestricted },
    });
  }

  /** GET /v1/certificate/trust-root: the Ed25519 key that signs the server's certificate keys (pin it). */
  /**
   * PUT /v1/profile: replaces the account's encrypted profile (docs/protocol.md "Profiles"): its version and the
   * ciphertext of each field it has (a field left out is removed).
   */
  async putProfile(version: Uint8Array, fields: EncryptedProfileFields): Promise<void> {
    if (version.length !== PROFILE_VERSION_LENGTH) throw invalidArgument(`a profile version is ${PROFILE_VERSION_LENGTH} bytes`);
    const json: Record<string, unknown> = { version: toBase64(version) };
    for (const field of PROFILE_FIELDS) {
      const value = fields[field];
      if (value !== undefined) json[field] = toBase64(value);
    }
    await this.http.noContent({ route: 'PUT /v1/profile', method: 'PUT', path: '/v1/profile', auth: true, json, timeoutMs: this.attachmentTimeoutMs });
  }

  /**
   * GET /v1/profile/:accountId/:version, with no credentials (who fetches whose profile would be the contact graph):
   * the encrypted fields, or undefined when the server has no profile of that version (PROFILE_NOT_FOUND).
   */
  async getProfile(accountId: string, version: Uint8Array): Promise<EncryptedProfileFields | undefined> {
    checkAccountId(accountId);
    if (version.length !== PROFILE_VERSION_LENGTH) throw invalidArgument(`a profile version is ${PROFILE_VERSION_LENGTH} bytes`);
    const route = 'GET /v1/profile/:accountId/:version';
    let body: Fields;
    try {
      body = await this.http.json({ route, method: 'GET', path: `/v1/profile/${accountId}/${toHex(version)}`, auth: false, timeoutMs: this.attachmentTimeoutMs });
    } catch (err) {
      if (ClientError.isServer(err, 'PROFILE_NOT_FOUND')) return undefined;
      throw err;
    }
    const out: { -readonly [K in ProfileField]?: Uint8Array } = {};
    for (const field of PROFILE_FIELDS) if (body.has(field)) out[field] = body.bytes(field);
    return out;
  }

  async getTrustRoot(): Promise<Uint8Array> {
    const body = await this.http.json({ route: 'GET /v1/certificate/trust-root', method: 'GET', path: '/v1/certificate/trust-root', auth: false });
    return body.bytes('publicKey', 32);
  }

  /** GET /v1/certificate/delivery: a sender certificate for this device (encoded; the caller verifies it). */
  async getSenderCertificate(): Promise<{ certificate: Uint8Array; expires: number }> {
    const body = await this.http.json({ route: 'GET /v1/certificate/delivery', method: 'GET', path: '/v1/certificate/delivery', auth: true });
    return { certificate: body.bytes('certificate'), expires: body.timestamp('expires') };
  }

  async putSealedSenderKey(published: Uint8Array): Promise<void> {
    await this.http.noContent({
      route: 'PUT /v1/accounts/me/sealed-sender-key',
      method: 'PUT',
      path: '/v1/accounts/me/sealed-sender-key',
      auth: true,
      json: { sealedSenderKey: toBase64(published) },
    });
  }

  /** DELETE /v1/accounts/me/username. */
  async deleteUsername(): Promise<void> {
    await this.http.noContent({ route: 'DELETE /v1/accounts/me/username', method: 'DELETE', path: '/v1/accounts/me/username', auth: true });
  }

  /** POST /v1/accounts/lookup: the account with this username, or undefined when there is none. */
  async lookupUsername(username: string): Promise<AccountKey | undefined> {
    const route = 'POST /v1/accounts/lookup';
    let body: Fields;
    try {
      body = await this.http.json({ route, method: 'POST', path: '/v1/accounts/lookup', auth: true, json: { username } });
    } catch (err) {
      if (ClientError.isServer(err, 'ACCOUNT_NOT_FOUND') || ClientError.isServer(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
    return { accountId: body.string('accountId', ACCOUNT_ID), identityKey: identityKeyOf(route, body), ...sealedSenderKeyOf(body) };
  }

  /** GET /v1/accounts/:accountId: the account's identity key (SERVER_ERROR ACCOUNT_NOT_FOUND when unknown). */
  async getAccount(accountId: string): Promise<AccountKey> {
    checkAccountId(accountId);
    const route = 'GET /v1/accounts/:accountId';
    const body = await this.http.json({ route, method: 'GET', path: `/v1/accounts/${accountId}`, auth: true });
    if (body.string('accountId', ACCOUNT_ID) !== accountId) throw badResponse(route, 'names another account');
    return { accountId, identityKey: identityKeyOf(route, body), ...sealedSenderKeyOf(body) };
  }

  /** DELETE /v1/accounts/me: deletes the account with all its devices, keys, queues and attachments. */
  async deleteAccount(): Promise<void> {
    await this.http.noContent({ route: 'DELETE /v1/accounts/me', method: 'DELETE', path: '/v1/accounts/me', auth: true });
  }

  // -- devices --

  /** POST /v1/devices/link-code: a one-use code (10 minutes) that lets a new device join this account. */
  async createLinkCode(): Promise<{ code: string; expiresAt: number }> {
    const body = await this.http.json({ route: 'POST /v1/devices/link-code', method: 'POST', path: '/v1/devices/link-code', auth: true });
    return { code: body.string('code', LINK_CODE), expiresAt: body.timestamp('expiresAt') };
  }

  /** POST /v1/devices/link: registers a new device with a link code (SERVER_ERROR LINK_CODE_INVALID when refused). */
  async linkDevice(request: LinkRequest): Promise<DeviceAddress> {
    const { code } = request;
    if (typeof code !== 'string' || !LINK_CODE.test(code)) throw invalidArgument('a link code is 22–64 base64url characters');
    const route = 'POST /v1/devices/link';
    const body = await this.http.json({ route, method: 'POST', path: '/v1/devices/link', auth: false, json: { code, ...newDeviceJson(request) } });
    const accountId = body.string('accountId', ACCOUNT_ID);
    const deviceId = body.integer('deviceId', 2, Number.MAX_SAFE_INTEGER);
    if (!isDeviceId(deviceId)) throw badResponse(route, 'has an out-of-range deviceId');
    return { accountId, deviceId };
  }

  /** GET /v1/devices: the devices of this account. */
  async listDevices(): Promise<DeviceInfo[]> {
    const route = 'GET /v1/devices';
    const body = await this.http.json({ route, method: 'GET', path: '/v1/devices', auth: true });
    const devices = body.objects('devices').map((d) => ({
      deviceId: d.integer('deviceId', 1, Number.MAX_SAFE_INTEGER),
      registrationId: d.integer('registrationId', 1, MAX_REGISTRATION_ID),
      name: d.bytes('name'),
      createdAt: d.timestamp('createdAt'),
      lastSeenAt: d.timestamp('lastSeenAt'),
    }));
    if (new Set(devices.map((d) => d.deviceId)).size !== devices.length) throw badResponse(route, 'lists a device twice');
    return devices;
  }

  /** DELETE /v1/devices/:deviceId (SERVER_ERROR DEVICE_NOT_FOUND when there is no such device). */
  async removeDevice(deviceId: number): Promise<void> {
    checkDeviceId(deviceId);
    await this.http.noContent({ route: 'DELETE /v1/devices/:deviceId', method: 'DELETE', path: `/v1/devices/${deviceId}`, auth: true });
  }

  /** PUT /v1/provisioning/:address: relays an end-to-end encrypted provisioning message to a new device's socket. */
  async putProvisioning(address: string, message: Uint8Array): Promise<void> {
    if (typeof address !== 'string' || !PROVISIONING_ADDRESS.test(address)) throw invalidArgument('a provisioning address is 43 base64url characters');
    if (message.length > MAX_PROVISIONING_BODY_BYTES) throw invalidArgument(`a provisioning message is at most ${MAX_PROVISIONING_BODY_BYTES} bytes`);
    const json = { body: toBase64(message) };
    await this.http.noContent({ route: 'PUT /v1/provisioning/:address', method: 'PUT', path: `/v1/provisioning/${address}`, auth: true, json });
  }

  // -- keys --

  /** PUT /v1/keys: adds one-time prekeys and/or replaces the signed and last-resort ones (public parts only). */
  async uploadKeys(keys: KeyUpload): Promise<void> {
    await this.http.noContent({ route: 'PUT /v1/keys', method: 'PUT', path: '/v1/keys', auth: true, json: keysJson(keys) });
  }

  /** GET /v1/keys/count: one-time prekeys left on the server for this device. */
  async keyCounts(): Promise<{ oneTime: number; kyberOneTime: number }> {
    const body = await this.http.json({ route: 'GET /v1/keys/count', method: 'GET', path: '/v1/keys/count', auth: true });
    return { oneTime: body.integer('oneTime', 0, Number.MAX_SAFE_INTEGER), kyberOneTime: body.integer('kyberOneTime', 0, Number.MAX_SAFE_INTEGER) };
  }

  /**
   * GET /v1/keys/:accountId/:deviceId: the prekey bundle of one device, or of every device with '*' (for one's own
   * account: every other device). Consumes one one-time key of each kind per device.
   */
  async getPreKeyBundles(accountId: string, deviceId: number | '*'): Promise<PreKeyBundles> {
    checkAccountId(accountId);
    if (deviceId !== '*') checkDeviceId(deviceId);
    const route = 'GET /v1/keys/:accountId/:deviceId';
    const body = await this.http.json({ route, method: 'GET', path: `/v1/keys/${accountId}/${deviceId}`, auth: true });
    const identityKeyBytes = body.bytes('identityKey', IDENTITY_KEY_LENGTH);
    let identityKey: IdentityKey;
    try {
      identityKey = decodeIdentityKey(identityKeyBytes);
    } catch {
      throw badResponse(route, 'has an undecodable identityKey');
    }
    const devices = body.objects('devices').map((d): DeviceBundle => {
      const id = d.integer('deviceId', 1, Number.MAX_SAFE_INTEGER);
      if (!isDeviceId(id)) throw badResponse(route, 'has an out-of-range deviceId');
      const signed = d.object('signedPreKey');
      const kyber = d.object('kyberPreKey');
      const oneTime = d.has('oneTimePreKey') ? d.object('oneTimePreKey') : undefined;
      const bundle: PreKeyBundle = {
        identityKey,
        deviceId: id,
        signedPreKey: {
          id: signed.integer('keyId', 0, MAX_KEY_ID),
          publicKey: signed.bytes('publicKey', X25519_PUBLIC_KEY_BYTES),
          signature: signed.bytes('signature', SIGNATURE_BYTES),
        },
        ...(oneTime
          ? { oneTimePreKey: { id: oneTime.integer('keyId', 0, MAX_KEY_ID), publicKey: oneTime.bytes('publicKey', X25519_PUBLIC_KEY_BYTES) } }
          : {}),
        kyberPreKey: {
          id: kyber.integer('keyId', 0, MAX_KEY_ID),
          publicKey: kyber.bytes('publicKey', MLKEM1024_PUBLIC_KEY_BYTES),
          signature: kyber.bytes('signature', SIGNATURE_BYTES),
        },
      };
      return { deviceId: id, registrationId: d.integer('registrationId', 1, MAX_REGISTRATION_ID), bundle };
    });
    const ids = devices.map((d) => d.deviceId);
    if (new Set(ids).size !== ids.length) throw badResponse(route, 'lists a device twice');
    if (deviceId !== '*' && (ids.length !== 1 || ids[0] !== deviceId)) throw badResponse(route, 'is not the bundle of the device asked for');
    return { identityKey: identityKeyBytes, devices };
  }

  // -- messages --

  /**
   * PUT /v1/messages/:accountId: one envelope per current device of the account (for oneself: per other device).
   * A device list that does not match is SERVER_ERROR DEVICE_LIST_MISMATCH: see mismatchOf.
   */
  async sendMessages(accountId: string, messages: readonly OutgoingEnvelope[]): Promise<{ ids: bigint[] }> {
    checkSend(accountId, messages);
    const route = 'PUT /v1/messages/:accountId';
    const json = { messages: messages.map((m) => ({ deviceId: m.deviceId, registrationId: m.registrationId, envelope: toBase64(m.envelope) })) };
    const body = await this.http.json({ route, method: 'PUT', path: `/v1/messages/${accountId}`, auth: true, json });
    const ids = body.array('ids').map((id, i) => body.envelopeId(id, `ids[${i}]`));
    if (ids.length !== messages.length || body.integer('stored', 0, MAX_DEVICES_PER_SEND) !== messages.length) {
      throw badResponse(route, 'does not account for every envelope sent');
    }
    return { ids };
  }

  /**
   * PUT /v1/sealed/messages/:accountId: a sealed send, without credentials (the request names no sender), let in by
   * the recipient's access key; the same answers as sendMessages, and SERVER_ERROR INVALID_ACCESS_KEY.
   */
  async sendSealedMessages(accountId: string, accessKey: Uint8Array, messages: readonly OutgoingEnvelope[]): Promise<{ ids: bigint[] }> {
    checkSend(accountId, messages);
    if (accessKey.length !== ACCESS_KEY_LENGTH) throw invalidArgument(`an access key is ${ACCESS_KEY_LENGTH} bytes`);
    const route = 'PUT /v1/sealed/messages/:accountId';
    const json = { messages: messages.map((m) => ({ deviceId: m.deviceId, registrationId: m.registrationId, envelope: toBase64(m.envelope) })) };
    const headers = { 'unidentified-access-key': toBase64(accessKey) };
    const body = await this.http.json({ route, method: 'PUT', path: `/v1/sealed/messages/${accountId}`, auth: false, headers, json });
    const ids = body.array('ids').map((id, i) => body.envelopeId(id, `ids[${i}]`));
    if (ids.length !== messages.length || body.integer('stored', 0, MAX_DEVICES_PER_SEND) !== messages.length) {
      throw badResponse(route, 'does not account for every envelope sent');
    }
    return { ids };
  }

  /** GET /v1/messages: a page of queued envelopes (the fallback for clients without the delivery socket). */
  async fetchMessages(options: FetchMessagesOptions = {}): Promise<{ messages: ReceivedEnvelope[]; more: boolean }> {
    const { after, wait } = options;
    if (after !== undefined && (typeof after !== 'bigint' || after < 0n || after > MAX_U64)) throw invalidArgument('after must be an unsigned 64-bit id');
    if (wait !== undefined && (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS)) {
      throw invalidArgument(`wait must be an integer from 0 to ${MAX_WAIT_SECONDS} seconds`);
    }
    const query = new URLSearchParams();
    if (wait !== undefined) query.set('wait', String(wait));
    if (after !== undefined) query.set('after', String(after));
    const search = query.toString();
    const path = `/v1/messages${search ? `?${search}` : ''}`;
    const route = 'GET /v1/messages';
    const body = await this.http.json({
      route,
      method: 'GET',
      path,
      auth: true,
      timeoutMs: this.timeoutMs + (wait ?? 0) * 1000,
      signal: options.signal,
    });
    const messages = body.objects('messages').map((m): ReceivedEnvelope => {
      const hasSource = m.has('sourceAccountId') || m.has('sourceDeviceId');
      const source = hasSource
        ? { accountId: m.string('sourceAccountId', ACCOUNT_ID), deviceId: m.integer('sourceDeviceId', 1, 0xffffffff) }
        : undefined;
      return {
        id: body.envelopeId(m.string('id'), 'messages[].id'),
        receivedAt: m.timestamp('receivedAt'),
        ...(source ? { source } : {}),
        envelope: m.bytes('envelope'),
      };
    });
    for (let i = 1; i < messages.length; i++) {
      if ((messages[i] as ReceivedEnvelope).id <= (messages[i - 1] as ReceivedEnvelope).id) throw badResponse(route, 'is not in id order');
    }
    if (after !== undefined && messages.length > 0 && (messages[0] as ReceivedEnvelope).id <= after) throw badResponse(route, 'goes back before `after`');
    return { messages, more: body.boolean('more') };
  }

  /** POST /v1/messages/ack: deletes envelopes from this device's queue; `unknown` ones were not (or no longer) in it. */
  async ackMessages(ids: readonly bigint[]): Promise<{ acknowledged: bigint[]; unknown: bigint[] }> {
    for (const id of ids) if (typeof id !== 'bigint' || id < 0n || id > MAX_U64) throw invalidArgument('envelope ids are unsigned 64-bit integers');
    const route = 'POST /v1/messages/ack';
    const acknowledged: bigint[] = [];
    const unknown: bigint[] = [];
    for (let start = 0; start < ids.length; start += MAX_ACK_IDS) {
      const batch = ids.slice(start, start + MAX_ACK_IDS);
      const sent = new Set(batch);
      const body = await this.http.json({ route, method: 'POST', path: '/v1/messages/ack', auth: true, json: { ids: batch.map(String) } });
      for (const [list, name] of [
        [acknowledged, 'acknowledged'],
        [unknown, 'unknown'],
      ] as const) {
        for (const [i, value] of body.array(name).entries()) {
          const id = body.envelopeId(value, `${name}[${i}]`);
          if (!sent.has(id)) throw badResponse(route, 'names an id that was not sent');
          list.push(id);
        }
      }
    }
    return { acknowledged, unknown };
  }

  // -- groups (the MLS Delivery Service, docs/api.md "Groups") --

  /** POST /v1/groups: registers a new group (this device its only member) at `epoch` with its GroupInfo. */
  /** POST /v1/groups, with the SHA-256 of epoch 0's group send key (docs/protocol.md "Group send keys"). */
  async createGroup(groupId: string, epoch: number, groupInfo: Uint8Array, sendKeyHash?: Uint8Array): Promise<void> {
    checkGroupId(groupId);
    const json = { groupId, epoch, groupInfo: toBase64(groupInfo), ...(sendKeyHash ? { sendKeyHash: toBase64(checkSendKeyHash(sendKeyHash)) } : {}) };
    await this.http.noContent({ route: 'POST /v1/groups', method: 'POST', path: '/v1/groups', auth: true, json });
  }

  /** GET /v1/groups: the groups any device of this account is in. */
  async listGroups(): Promise<{ groupId: string; epoch: number }[]> {
    const body = await this.http.json({ route: 'GET /v1/groups', method: 'GET', path: '/v1/groups', auth: true });
    return body.objects('groups').map((g) => ({ groupId: g.string('groupId', GROUP_ID), epoch: g.integer('epoch', 0, Number.MAX_SAFE_INTEGER) }));
  }

  /** GET /v1/groups/:groupId: epoch, GroupInfo and member devices. */
  async getGroup(groupId: string): Promise<{ epoch: number; groupInfo: Uint8Array; members: DeviceAddress[] }> {
    checkGroupId(groupId);
    const body = await this.http.json({ route: 'GET /v1/groups/:groupId', method: 'GET', path: `/v1/groups/${groupId}`, auth: true });
    return {
      epoch: body.integer('epoch', 0, Number.MAX_SAFE_INTEGER),
      groupInfo: body.bytes('groupInfo'),
      members: body.objects('members').map((m) => ({ accountId: m.string('accountId', ACCOUNT_ID), deviceId: m.integer('deviceId', 1, 0xffffffff) })),
    };
  }

  /**
   * POST /v1/groups/:groupId/commits. A commit made in an epoch the group has left is SERVER_ERROR STALE_EPOCH
   * whose details carry the current `epoch` (staleEpochOf). The server reads the new member devices from the
   * verified commit itself (INVALID_COMMIT if it does not verify).
   */
  async commitGroup(
    groupId: string,
    commit: { epoch: number; commit: Uint8Array; welcome?: Uint8Array; groupInfo: Uint8Array; sendKeyHash?: Uint8Array },
  ): Promise<{ epoch: number; stored: number }> {
    checkGroupId(groupId);
    const json = {
      epoch: commit.epoch,
      commit: toBase64(commit.commit),
      ...(commit.welcome ? { welcome: toBase64(commit.welcome) } : {}),
      groupInfo: toBase64(commit.groupInfo),
      ...(commit.sendKeyHash ? { sendKeyHash: toBase64(checkSendKeyHash(commit.sendKeyHash)) } : {}),
    };
    const route = 'POST /v1/groups/:groupId/commits';
    const body = await this.http.json({ route, method: 'POST', path: `/v1/groups/${groupId}/commits`, auth: true, json, timeoutMs: this.attachmentTimeoutMs });
    return { epoch: body.integer('epoch', 0, Number.MAX_SAFE_INTEGER), stored: body.integer('stored', 0, Number.MAX_SAFE_INTEGER) };
  }

  /** PUT /v1/groups/:groupId/messages: an application message envelope for every other member device. */
  async sendGroupMessage(groupId: string, envelope: Uint8Array): Promise<{ stored: number }> {
    checkGroupId(groupId);
    const route = 'PUT /v1/groups/:groupId/messages';
    const body = await this.http.json({ route, method: 'PUT', path: `/v1/groups/${groupId}/messages`, auth: true, json: { envelope: toBase64(envelope) } });
    return { stored: body.integer('stored', 0, Number.MAX_SAFE_INTEGER) };
  }

  /**
   * PUT /v1/sealed/groups/:groupId/messages: an application message for every member device (this one's too), with no
   * credentials — the epoch's group send key lets it in, and the server stores it naming no sender. Refused with
   * INVALID_GROUP_SEND_KEY when the key is not the group's current one (a commit this device has not processed, or
   * none registered).
   */
  async sendSealedGroupMessage(groupId: string, sendKey: Uint8Array, envelope: Uint8Array): Promise<{ stored: number }> {
    checkGroupId(groupId);
    if (sendKey.length !== GROUP_SEND_KEY_BYTES) throw invalidArgument(`a group send key is ${GROUP_SEND_KEY_BYTES} bytes`);
    const route = 'PUT /v1/sealed/groups/:groupId/messages';
    const headers = { 'group-send-key': toBase64(sendKey) };
    const path = `/v1/sealed/groups/${groupId}/messages`;
    const body = await this.http.json({ route, method: 'PUT', path, auth: false, headers, json: { envelope: toBase64(envelope) } });
    return { stored: body.integer('stored', 0, Number.MAX_SAFE_INTEGER) };
  }

  /** PUT /v1/groups/key-packages: this device's MLS KeyPackages (public parts). */
  async uploadKeyPackages(keyPackages: readonly Uint8Array[], lastResort?: Uint8Array): Promise<void> {
    const json = { keyPackages: keyPackages.map(toBase64), ...(lastResort ? { lastResort: toBase64(lastResort) } : {}) };
    await this.http.noContent({ route: 'PUT /v1/groups/key-packages', method: 'PUT', path: '/v1/groups/key-packages', auth: true, json });
  }

  /** GET /v1/groups/key-packages/count: one-use KeyPackages this device has left on the server. */
  async keyPackageCount(): Promise<number> {
    const body = await this.http.json({ route: 'GET /v1/groups/key-packages/count', method: 'GET', path: '/v1/groups/key-packages/count', auth: true });
    return body.integer('count', 0, Number.MAX_SAFE_INTEGER);
  }

  /** POST /v1/groups/key-packages/claim: one KeyPackage of every device of each account. */
  async claimKeyPackages(accountIds: readonly string[]): Promise<{ accountId: string; deviceId: number; keyPackage: Uint8Array }[]> {
    for (const id of accountIds) checkAccountId(id);
    const route = 'POST /v1/groups/key-packages/claim';
    const body = await this.http.json({ route, method: 'POST', path: '/v1/groups/key-packages/claim', auth: true, json: { accountIds } });
    return body.objects('keyPackages').map((k) => ({
      accountId: k.string('accountId', ACCOUNT_ID),
      deviceId: k.integer('deviceId', 1, 0xffffffff),
      keyPackage: k.bytes('keyPackage'),
    }));
  }

  // -- attachments --

  /** POST /v1/attachments: uploads an encrypted blob (SERVER_ERROR ATTACHMENT_TOO_LARGE above the server's limit). */
  async uploadAttachment(data: Uint8Array, onProgress?: ProgressCallback, options: TransferOptions = {}): Promise<StoredAttachment> {
    const total = data.length;
    let reported = -1;
    const report = (sent: number): void => {
      if (sent <= reported) return;
      reported = sent;
      onProgress?.(sent, total);
    };
    report(0);
    const route = 'POST /v1/attachments';
    const body = await this.http.json({
      route,
      method: 'POST',
      path: '/v1/attachments',
      auth: true,
      body: data,
      timeoutMs: this.attachmentTimeoutMs,
      signal: options.signal,
      ...(onProgress ? { onUploadProgress: (sent: number) => report(Math.min(sent, total)) } : {}),
    });
    const stored = { id: body.string('id', ATTACHMENT_ID), size: body.integer('size', 0, Number.MAX_SAFE_INTEGER), expiresAt: body.timestamp('expiresAt') };
    if (stored.size !== total) throw badResponse(route, 'reports a size other than the one sent');
    report(total);
    return stored;
  }

  /** GET /v1/attachments/:id: the encrypted blob; BAD_RESPONSE once it proves larger than `options.maxBytes`. */
  async downloadAttachment(id: string, onProgress?: ProgressCallback, options: DownloadOptions = {}): Promise<Uint8Array> {
    if (typeof id !== 'string' || !ATTACHMENT_ID.test(id)) throw invalidArgument('an attachment id is 64 lowercase hex characters');
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw invalidArgument('maxBytes must be a non-negative integer');
    const route = 'GET /v1/attachments/:id';
    const exchange = await this.http.exchange({
      route,
      method: 'GET',
      path: `/v1/attachments/${id}`,
      auth: true,
      timeoutMs: this.attachmentTimeoutMs,
      signal: options.signal,
    });
    // The server always announces the size: it is what progress is measured against, and a first bound.
    if (contentLength(exchange.response) === undefined) {
      await exchange.response.body?.cancel().catch(() => undefined);
      throw badResponse(route, 'has no content-length');
    }
    return this.http.readBytes(route, exchange, maxBytes, onProgress);
  }
}
