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
import { IDENTITY_KEY_LENGTH, MAX_ACK_IDS, MAX_PROVISIONING_BODY_BYTES, concatBytes, decodeIdentityKey } from '@samizdat/protocol';
import type { IdentityKey, KyberPreKey, OneTimePreKey, PreKeyBundle, SignedPreKey } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import { fromBase64, toBase64 } from './base64.js';
import type { Connector } from './connector.js';
import type { Credentials } from './endpoint.js';
import { ACCOUNT_ID, basicAuthorization, checkAccountId, checkCredentials, checkDeviceId, httpUrl, isDeviceId, parseServerUrl } from './endpoint.js';

// ---- public types ----

export interface HttpApiOptions {
  readonly connector: Connector;
  /** http(s)://host[:port][/prefix] */
  readonly serverUrl: string;
  /** The device's login; required by every route except register and linkDevice. */
  readonly credentials?: Credentials;
  /** Time allowed for one request, answer included. Default 30 s. */
  readonly timeoutMs?: number;
  /** Time allowed for one attachment upload or download. Default 10 minutes. */
  readonly attachmentTimeoutMs?: number;
}

/** The keys and secret a new device uploads (register, linkDevice). Only public parts and signatures are sent. */
export interface NewDevice {
  /** 1 to 2^31 − 1, chosen at random by the device. */
  readonly registrationId: number;
  /** The device's auth secret: base64url, 22–128 characters (≥ 128 bits of randomness). */
  readonly password: string;
  /** The end-to-end encrypted device name (opaque to the server). */
  readonly name?: Uint8Array;
  readonly signedPreKey: SignedPreKey;
  readonly kyberLastResortPreKey: KyberPreKey;
  readonly oneTimePreKeys?: readonly OneTimePreKey[];
  readonly kyberPreKeys?: readonly KyberPreKey[];
}

export interface RegisterRequest {
  /** The account identity key, encoded (encodeIdentityKey: 65 bytes). */
  readonly identityKey: Uint8Array;
  readonly username?: string;
  readonly device: NewDevice;
}

export interface LinkRequest extends NewDevice {
  /** The link code from the existing device (createLinkCode), carried in the provisioning message. */
  readonly code: string;
}

/** Prekeys to add or replace for the authenticated device (PUT /v1/keys); every field is optional. */
export interface KeyUpload {
  readonly signedPreKey?: SignedPreKey;
  readonly kyberLastResortPreKey?: KyberPreKey;
  readonly oneTimePreKeys?: readonly OneTimePreKey[];
  readonly kyberPreKeys?: readonly KyberPreKey[];
}

export interface DeviceAddress {
  readonly accountId: string;
  readonly deviceId: number;
}

export interface Me extends DeviceAddress {
  /** The account identity key, encoded (65 bytes). */
  readonly identityKey: Uint8Array;
  readonly hasUsername: boolean;
}

export interface AccountKey {
  readonly accountId: string;
  /** The account identity key, encoded (65 bytes; decodes with decodeIdentityKey). */
  readonly identityKey: Uint8Array;
}

export interface DeviceInfo {
  readonly deviceId: number;
  readonly registrationId: number;
  /** The end-to-end encrypted device name (empty when none was given). */
  readonly name: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly lastSeenAt: number;
}

export interface DeviceBundle {
  readonly deviceId: number;
  readonly registrationId: number;
  /** Not yet verified: processPreKeyBundle checks its signatures against the identity key. */
  readonly bundle: PreKeyBundle;
}

export interface PreKeyBundles {
  /** The account identity key, encoded (65 bytes); every bundle carries it decoded. */
  readonly identityKey: Uint8Array;
  readonly devices: readonly DeviceBundle[];
}

export interface OutgoingEnvelope {
  readonly deviceId: number;
  readonly registrationId: number;
  /** An encoded envelope (@samizdat/protocol encodeEnvelope). */
  readonly envelope: Uint8Array;
}

/** An envelope from the device's queue, over HTTP or the delivery socket. */
export interface ReceivedEnvelope {
  /** The server's id: acknowledge with it. */
  readonly id: bigint;
  /** When the server stored it (ms since the epoch). */
  readonly receivedAt: number;
  /** The sending device as the server authenticated it (absent for sealed sender). */
  readonly source?: DeviceAddress;
  readonly envelope: Uint8Array;
}

export interface FetchMessagesOptions {
  /** Only envelopes with a higher id (a cursor: the last id of the previous page). */
  readonly after?: bigint;
  /** Long-poll: wait up to this many seconds (0–60) for an envelope when the queue is empty. */
  readonly wait?: number;
  readonly signal?: AbortSignal;
}

export interface StoredAttachment {
  /** 64 lowercase hex characters. */
  readonly id: string;
  readonly size: number;
  /** When the server deletes it (ms since the epoch). */
  readonly expiresAt: number;
}

/** Progress of an upload or download: bytes done so far, of `total`. */
export type ProgressCallback = (done: number, total: number) => void;

export interface TransferOptions {
  readonly signal?: AbortSignal;
}

export interface DownloadOptions extends TransferOptions {
  /**
   * The download fails with BAD_RESPONSE as soon as the attachment proves larger than this (the size the server
   * announces is checked before anything is read). Default 100 MiB, the server's default limit.
   */
  readonly maxBytes?: number;
}

/** The details of a 409 DEVICE_LIST_MISMATCH: how the recipient's device list differs from the one sent to. */
export interface DeviceListMismatch {
  /** Current devices the send left out: fetch their bundles and add them. */
  readonly missingDevices: number[];
  /** Devices that no longer exist: drop their sessions. */
  readonly extraDevices: number[];
  /** Devices re-registered since (new registration id): start new sessions. */
  readonly staleDevices: number[];
}

const GROUP_ID = /^[0-9a-f]{64}$/;

/** INVALID_ARGUMENT unless `groupId` is a group id: 64 lowercase hex characters. */
export function checkGroupId(groupId: string): void {
  if (typeof groupId !== 'string' || !GROUP_ID.test(groupId)) throw invalidArgument('a group id is 64 lowercase hex characters');
}

/** The group's current epoch from a STALE_EPOCH error, or undefined for any other error. */
export function staleEpochOf(err: unknown): number | undefined {
  if (!ClientError.isServer(err, 'STALE_EPOCH')) return undefined;
  const epoch = err.server?.details?.epoch;
  return typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch >= 0 ? epoch : undefined;
}

/** The device lists of a DEVICE_LIST_MISMATCH error, or undefined for any other error. */
export function mismatchOf(err: unknown): DeviceListMismatch | undefined {
  if (!ClientError.isServer(err, 'DEVICE_LIST_MISMATCH')) return undefined;
  return err.server?.details as DeviceListMismatch | undefined;
}

// ---- limits and formats ----

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_ATTACHMENT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;
/** Largest JSON answer read (a page of 100 envelopes of up to 300 KiB each, in base64, fits). */
const MAX_JSON_BYTES = 64 * 1024 * 1024;
/** Largest error body read; a real one is a few hundred bytes. */
const MAX_ERROR_BYTES = 64 * 1024;
/** Server-side bounds (packages/server/src/schemas.ts, routes/messages.ts). */
const MAX_KEYS_PER_UPLOAD = 100;
const MAX_DEVICES_PER_SEND = 64;
const MAX_WAIT_SECONDS = 60;
const MAX_REGISTRATION_ID = 0x7fffffff;
const MAX_KEY_ID = 0xffffffff;
const MAX_U64 = 0xffffffffffffffffn;
/** Key lengths of PQXDH §2: X25519 public keys, Ed25519 signatures, ML-KEM-1024 encapsulation keys. */
const X25519_PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
const MLKEM1024_PUBLIC_KEY_BYTES = 1568;

const PASSWORD = /^[A-Za-z0-9_-]{22,128}$/;
const LINK_CODE = /^[A-Za-z0-9_-]{22,64}$/;
const PROVISIONING_ADDRESS = /^[A-Za-z0-9_-]{43}$/;
const ATTACHMENT_ID = /^[0-9a-f]{64}$/;
const ENVELOPE_ID = /^[0-9]{1,20}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

function invalidArgument(message: string): ClientError {
  return new ClientError(ClientErrorCode.InvalidArgument, message);
}

function badResponse(route: string, what: string): ClientError {
  return new ClientError(ClientErrorCode.BadResponse, `${route}: the server's answer ${what}`);
}

// ---- reading answers ----

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed access to the fields of one JSON object of an answer; anything unexpected is BAD_RESPONSE. */
class Fields {
  private constructor(
    private readonly route: string,
    private readonly where: string,
    private readonly value: JsonObject,
  ) {}

  static of(route: string, value: unknown, where = 'body'): Fields {
    if (!isObject(value)) throw badResponse(route, `has no ${where} object`);
    return new Fields(route, where, value);
  }

  private bad(name: string, what: string): ClientError {
    return badResponse(this.route, `has ${what} ${this.where}.${name}`);
  }

  has(name: string): boolean {
    return this.value[name] !== undefined;
  }

  string(name: string, pattern?: RegExp): string {
    const value = this.value[name];
    if (typeof value !== 'string' || (pattern !== undefined && !pattern.test(value))) throw this.bad(name, 'a missing or malformed');
    return value;
  }

  integer(name: string, min: number, max: number): number {
    const value = this.value[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw this.bad(name, 'a missing or out-of-range');
    return value;
  }

  timestamp(name: string): number {
    return this.integer(name, 0, Number.MAX_SAFE_INTEGER);
  }

  boolean(name: string): boolean {
    const value = this.value[name];
    if (typeof value !== 'boolean') throw this.bad(name, 'a missing or non-boolean');
    return value;
  }

  /** Base64 bytes, of exactly `length` when given. */
  bytes(name: string, length?: number): Uint8Array {
    const bytes = fromBase64(this.string(name));
    if (bytes === undefined) throw this.bad(name, 'invalid base64 in');
    if (length !== undefined && bytes.length !== length) throw this.bad(name, `a wrong-length (not ${length} bytes)`);
    return bytes;
  }

  /** A decimal envelope id (u64). */
  envelopeId(value: unknown, name: string): bigint {
    if (typeof value !== 'string' || !ENVELOPE_ID.test(value) || BigInt(value) > MAX_U64) throw this.bad(name, 'an invalid envelope id in');
    return BigInt(value);
  }

  object(name: string): Fields {
    return Fields.of(this.route, this.value[name], `${this.where}.${name}`);
  }

  array(name: string): unknown[] {
    const value = this.value[name];
    if (!Array.isArray(value)) throw this.bad(name, 'a missing or non-array');
    return value;
  }

  /** The items of array `name`, each an object. */
  objects(name: string): Fields[] {
    return this.array(name).map((item, i) => Fields.of(this.route, item, `${this.where}.${name}[${i}]`));
  }
}

// ---- encoding requests ----

function checkKeyId(id: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_KEY_ID) throw invalidArgument(`${what} id must be an unsigned 32-bit integer`);
}

function signedKeyJson(key: SignedPreKey): JsonObject {
  checkKeyId(key.id, 'signed prekey');
  return { keyId: key.id, publicKey: toBase64(key.keyPair.publicKey), signature: toBase64(key.signature) };
}

function kyberKeyJson(key: KyberPreKey, lastResort: boolean): JsonObject {
  checkKeyId(key.id, 'ML-KEM prekey');
  if (key.lastResort !== lastResort) {
    throw invalidArgument(lastResort ? 'kyberLastResortPreKey must be a last-resort key' : 'kyberPreKeys must be one-time keys');
  }
  return { keyId: key.id, publicKey: toBase64(key.keyPair.publicKey), signature: toBase64(key.signature) };
}

function oneTimeKeyJson(key: OneTimePreKey): JsonObject {
  checkKeyId(key.id, 'one-time prekey');
  return { keyId: key.id, publicKey: toBase64(key.keyPair.publicKey) };
}

function keysJson(keys: KeyUpload): JsonObject {
  const oneTime = keys.oneTimePreKeys ?? [];
  const kyber = keys.kyberPreKeys ?? [];
  if (oneTime.length > MAX_KEYS_PER_UPLOAD || kyber.length > MAX_KEYS_PER_UPLOAD) {
    throw invalidArgument(`at most ${MAX_KEYS_PER_UPLOAD} one-time prekeys of each kind per upload`);
  }
  return {
    ...(keys.signedPreKey ? { signedPreKey: signedKeyJson(keys.signedPreKey) } : {}),
    ...(keys.kyberLastResortPreKey ? { kyberLastResortPreKey: kyberKeyJson(keys.kyberLastResortPreKey, true) } : {}),
    ...(oneTime.length ? { oneTimePreKeys: oneTime.map(oneTimeKeyJson) } : {}),
    ...(kyber.length ? { kyberPreKeys: kyber.map((k) => kyberKeyJson(k, false)) } : {}),
  };
}

function checkRegistrationId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_REGISTRATION_ID) throw invalidArgument('registration id must be an integer from 1 to 2^31 − 1');
}

function newDeviceJson(device: NewDevice): JsonObject {
  checkRegistrationId(device.registrationId);
  if (typeof device.password !== 'string' || !PASSWORD.test(device.password)) {
    throw invalidArgument('the device password must be 22–128 base64url characters');
  }
  return {
    registrationId: device.registrationId,
    password: device.password,
    ...(device.name !== undefined ? { name: toBase64(device.name) } : {}),
    ...keysJson(device),
  };
}

/**
 * INVALID_ARGUMENT unless this is a send the server can take: up to 64 envelopes, one per device, ids in range.
 * None is allowed (for a sync copy to our own account when we know of no other device: the server checks that).
 */
export function checkSend(accountId: string, messages: readonly OutgoingEnvelope[]): void {
  checkAccountId(accountId);
  if (messages.length > MAX_DEVICES_PER_SEND) throw invalidArgument(`a send carries at most ${MAX_DEVICES_PER_SEND} envelopes`);
  const seen = new Set<number>();
  for (const m of messages) {
    checkDeviceId(m.deviceId);
    checkRegistrationId(m.registrationId);
    if (seen.has(m.deviceId)) throw invalidArgument('a send carries one envelope per device');
    seen.add(m.deviceId);
  }
}

function errorCodeOf(err: unknown): string {
  // undici wraps the system error as `cause`; node:http and the proxy agents throw it directly.
  for (let e: unknown = err, depth = 0; isObject(e) && depth < 4; e = e.cause, depth++) {
    if (typeof e.code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(e.code)) return e.code;
  }
  return err instanceof Error && /^[A-Za-z]{1,40}$/.test(err.name) ? err.name : 'unknown error';
}

// ---- the API ----

interface RequestSpec {
  /** The route pattern, for error messages: "PUT /v1/messages/:accountId". */
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly auth: boolean;
  readonly json?: unknown;
  readonly body?: Uint8Array;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  readonly onUploadProgress?: (sent: number) => void;
}

/** One request in flight: the response and the signals that explain a failure while reading it. */
interface Exchange {
  readonly response: Response;
  readonly timeout: AbortSignal;
  readonly caller: AbortSignal | undefined;
}

export class HttpApi {
  private readonly connector: Connector;
  private readonly server: URL;
  private readonly timeoutMs: number;
  private readonly attachmentTimeoutMs: number;
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
    const body = await this.json({ route, method: 'POST', path: '/v1/accounts', auth: false, json });
    return { accountId: body.string('accountId', ACCOUNT_ID), deviceId: body.integer('deviceId', 1, 1) };
  }

  /** GET /v1/accounts/me: the authenticated account and device. */
  async me(): Promise<Me> {
    const route = 'GET /v1/accounts/me';
    const body = await this.json({ route, method: 'GET', path: '/v1/accounts/me', auth: true });
    const me = {
      accountId: body.string('accountId', ACCOUNT_ID),
      deviceId: body.integer('deviceId', 1, Number.MAX_SAFE_INTEGER),
      identityKey: identityKeyOf(route, body),
      hasUsername: body.boolean('hasUsername'),
    };
    const credentials = this.requireCredentials(route);
    if (me.accountId !== credentials.accountId || me.deviceId !== credentials.deviceId) throw badResponse(route, 'names another device');
    return me;
  }

  /** PUT /v1/accounts/me/username (SERVER_ERROR USERNAME_TAKEN or INVALID_USERNAME when refused). */
  async setUsername(username: string): Promise<void> {
    await this.noContent({ route: 'PUT /v1/accounts/me/username', method: 'PUT', path: '/v1/accounts/me/username', auth: true, json: { username } });
  }

  /** DELETE /v1/accounts/me/username. */
  async deleteUsername(): Promise<void> {
    await this.noContent({ route: 'DELETE /v1/accounts/me/username', method: 'DELETE', path: '/v1/accounts/me/username', auth: true });
  }

  /** POST /v1/accounts/lookup: the account with this username, or undefined when there is none. */
  async lookupUsername(username: string): Promise<AccountKey | undefined> {
    const route = 'POST /v1/accounts/lookup';
    let body: Fields;
    try {
      body = await this.json({ route, method: 'POST', path: '/v1/accounts/lookup', auth: true, json: { username } });
    } catch (err) {
      if (ClientError.isServer(err, 'ACCOUNT_NOT_FOUND') || ClientError.isServer(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
    return { accountId: body.string('accountId', ACCOUNT_ID), identityKey: identityKeyOf(route, body) };
  }

  /** GET /v1/accounts/:accountId: the account's identity key (SERVER_ERROR ACCOUNT_NOT_FOUND when unknown). */
  async getAccount(accountId: string): Promise<AccountKey> {
    checkAccountId(accountId);
    const route = 'GET /v1/accounts/:accountId';
    const body = await this.json({ route, method: 'GET', path: `/v1/accounts/${accountId}`, auth: true });
    if (body.string('accountId', ACCOUNT_ID) !== accountId) throw badResponse(route, 'names another account');
    return { accountId, identityKey: identityKeyOf(route, body) };
  }

  /** DELETE /v1/accounts/me: deletes the account with all its devices, keys, queues and attachments. */
  async deleteAccount(): Promise<void> {
    await this.noContent({ route: 'DELETE /v1/accounts/me', method: 'DELETE', path: '/v1/accounts/me', auth: true });
  }

  // -- devices --

  /** POST /v1/devices/link-code: a one-use code (10 minutes) that lets a new device join this account. */
  async createLinkCode(): Promise<{ code: string; expiresAt: number }> {
    const body = await this.json({ route: 'POST /v1/devices/link-code', method: 'POST', path: '/v1/devices/link-code', auth: true });
    return { code: body.string('code', LINK_CODE), expiresAt: body.timestamp('expiresAt') };
  }

  /** POST /v1/devices/link: registers a new device with a link code (SERVER_ERROR LINK_CODE_INVALID when refused). */
  async linkDevice(request: LinkRequest): Promise<DeviceAddress> {
    const { code } = request;
    if (typeof code !== 'string' || !LINK_CODE.test(code)) throw invalidArgument('a link code is 22–64 base64url characters');
    const route = 'POST /v1/devices/link';
    const body = await this.json({ route, method: 'POST', path: '/v1/devices/link', auth: false, json: { code, ...newDeviceJson(request) } });
    const accountId = body.string('accountId', ACCOUNT_ID);
    const deviceId = body.integer('deviceId', 2, Number.MAX_SAFE_INTEGER);
    if (!isDeviceId(deviceId)) throw badResponse(route, 'has an out-of-range deviceId');
    return { accountId, deviceId };
  }

  /** GET /v1/devices: the devices of this account. */
  async listDevices(): Promise<DeviceInfo[]> {
    const route = 'GET /v1/devices';
    const body = await this.json({ route, method: 'GET', path: '/v1/devices', auth: true });
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
    await this.noContent({ route: 'DELETE /v1/devices/:deviceId', method: 'DELETE', path: `/v1/devices/${deviceId}`, auth: true });
  }

  /** PUT /v1/provisioning/:address: relays an end-to-end encrypted provisioning message to a new device's socket. */
  async putProvisioning(address: string, message: Uint8Array): Promise<void> {
    if (typeof address !== 'string' || !PROVISIONING_ADDRESS.test(address)) throw invalidArgument('a provisioning address is 43 base64url characters');
    if (message.length > MAX_PROVISIONING_BODY_BYTES) throw invalidArgument(`a provisioning message is at most ${MAX_PROVISIONING_BODY_BYTES} bytes`);
    const json = { body: toBase64(message) };
    await this.noContent({ route: 'PUT /v1/provisioning/:address', method: 'PUT', path: `/v1/provisioning/${address}`, auth: true, json });
  }

  // -- keys --

  /** PUT /v1/keys: adds one-time prekeys and/or replaces the signed and last-resort ones (public parts only). */
  async uploadKeys(keys: KeyUpload): Promise<void> {
    await this.noContent({ route: 'PUT /v1/keys', method: 'PUT', path: '/v1/keys', auth: true, json: keysJson(keys) });
  }

  /** GET /v1/keys/count: one-time prekeys left on the server for this device. */
  async keyCounts(): Promise<{ oneTime: number; kyberOneTime: number }> {
    const body = await this.json({ route: 'GET /v1/keys/count', method: 'GET', path: '/v1/keys/count', auth: true });
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
    const body = await this.json({ route, method: 'GET', path: `/v1/keys/${accountId}/${deviceId}`, auth: true });
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
    const body = await this.json({ route, method: 'PUT', path: `/v1/messages/${accountId}`, auth: true, json });
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
    const body = await this.json({
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
      const body = await this.json({ route, method: 'POST', path: '/v1/messages/ack', auth: true, json: { ids: batch.map(String) } });
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
  async createGroup(groupId: string, epoch: number, groupInfo: Uint8Array): Promise<void> {
    checkGroupId(groupId);
    await this.noContent({ route: 'POST /v1/groups', method: 'POST', path: '/v1/groups', auth: true, json: { groupId, epoch, groupInfo: toBase64(groupInfo) } });
  }

  /** GET /v1/groups: the groups any device of this account is in. */
  async listGroups(): Promise<{ groupId: string; epoch: number }[]> {
    const body = await this.json({ route: 'GET /v1/groups', method: 'GET', path: '/v1/groups', auth: true });
    return body.objects('groups').map((g) => ({ groupId: g.string('groupId', GROUP_ID), epoch: g.integer('epoch', 0, Number.MAX_SAFE_INTEGER) }));
  }

  /** GET /v1/groups/:groupId: epoch, GroupInfo and member devices. */
  async getGroup(groupId: string): Promise<{ epoch: number; groupInfo: Uint8Array; members: DeviceAddress[] }> {
    checkGroupId(groupId);
    const body = await this.json({ route: 'GET /v1/groups/:groupId', method: 'GET', path: `/v1/groups/${groupId}`, auth: true });
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
    commit: { epoch: number; commit: Uint8Array; welcome?: Uint8Array; groupInfo: Uint8Array },
  ): Promise<{ epoch: number; stored: number }> {
    checkGroupId(groupId);
    const json = {
      epoch: commit.epoch,
      commit: toBase64(commit.commit),
      ...(commit.welcome ? { welcome: toBase64(commit.welcome) } : {}),
      groupInfo: toBase64(commit.groupInfo),
    };
    const route = 'POST /v1/groups/:groupId/commits';
    const body = await this.json({ route, method: 'POST', path: `/v1/groups/${groupId}/commits`, auth: true, json, timeoutMs: this.attachmentTimeoutMs });
    return { epoch: body.integer('epoch', 0, Number.MAX_SAFE_INTEGER), stored: body.integer('stored', 0, Number.MAX_SAFE_INTEGER) };
  }

  /** PUT /v1/groups/:groupId/messages: an application message envelope for every other member device. */
  async sendGroupMessage(groupId: string, envelope: Uint8Array): Promise<{ stored: number }> {
    checkGroupId(groupId);
    const route = 'PUT /v1/groups/:groupId/messages';
    const body = await this.json({ route, method: 'PUT', path: `/v1/groups/${groupId}/messages`, auth: true, json: { envelope: toBase64(envelope) } });
    return { stored: body.integer('stored', 0, Number.MAX_SAFE_INTEGER) };
  }

  /** PUT /v1/groups/key-packages: this device's MLS KeyPackages (public parts). */
  async uploadKeyPackages(keyPackages: readonly Uint8Array[], lastResort?: Uint8Array): Promise<void> {
    const json = { keyPackages: keyPackages.map(toBase64), ...(lastResort ? { lastResort: toBase64(lastResort) } : {}) };
    await this.noContent({ route: 'PUT /v1/groups/key-packages', method: 'PUT', path: '/v1/groups/key-packages', auth: true, json });
  }

  /** GET /v1/groups/key-packages/count: one-use KeyPackages this device has left on the server. */
  async keyPackageCount(): Promise<number> {
    const body = await this.json({ route: 'GET /v1/groups/key-packages/count', method: 'GET', path: '/v1/groups/key-packages/count', auth: true });
    return body.integer('count', 0, Number.MAX_SAFE_INTEGER);
  }

  /** POST /v1/groups/key-packages/claim: one KeyPackage of every device of each account. */
  async claimKeyPackages(accountIds: readonly string[]): Promise<{ accountId: string; deviceId: number; keyPackage: Uint8Array }[]> {
    for (const id of accountIds) checkAccountId(id);
    const route = 'POST /v1/groups/key-packages/claim';
    const body = await this.json({ route, method: 'POST', path: '/v1/groups/key-packages/claim', auth: true, json: { accountIds } });
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
    const body = await this.json({
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
    const exchange = await this.exchange({
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
    return this.readBytes(route, exchange, maxBytes, onProgress);
  }

  // ---- plumbing ----

  private requireCredentials(route: string): Credentials {
    if (!this.credentials) throw new ClientError(ClientErrorCode.NotRegistered, `${route} needs a registered device`);
    return this.credentials;
  }

  /** Sends a request; resolves with a 2xx response, or throws the mapped ClientError. */
  private async exchange(spec: RequestSpec): Promise<Exchange> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (spec.auth) headers.authorization = basicAuthorization(this.requireCredentials(spec.route));
    let body: Uint8Array | string | undefined;
    if (spec.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.json);
    } else if (spec.body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = spec.body;
    }
    const timeout = AbortSignal.timeout(spec.timeoutMs ?? this.timeoutMs);
    const caller = spec.signal;
    let response: Response;
    try {
      caller?.throwIfAborted();
      response = await this.connector.fetch(httpUrl(this.server, spec.path), {
        method: spec.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: caller ? AbortSignal.any([timeout, caller]) : timeout,
        ...(spec.onUploadProgress ? { onUploadProgress: spec.onUploadProgress } : {}),
      });
    } catch (err) {
      throw this.networkError(spec.route, err, timeout, caller);
    }
    const exchange = { response, timeout, caller };
    if (response.status < 200 || response.status > 299) throw await this.errorOf(spec.route, exchange);
    return exchange;
  }

  private async json(spec: RequestSpec): Promise<Fields> {
    const exchange = await this.exchange(spec);
    const bytes = await this.readBytes(spec.route, exchange, MAX_JSON_BYTES);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw badResponse(spec.route, 'is not JSON');
    }
    return Fields.of(spec.route, value);
  }

  private async noContent(spec: RequestSpec): Promise<void> {
    const exchange = await this.exchange(spec);
    // Drained so that the connection can be reused; a 204 has no body to read.
    await this.readBytes(spec.route, exchange, MAX_ERROR_BYTES);
  }

  /** The whole body, refusing (BAD_RESPONSE) one longer than `maxBytes` as soon as it shows. */
  private async readBytes(route: string, exchange: Exchange, maxBytes: number, onProgress?: ProgressCallback): Promise<Uint8Array> {
    const { response } = exchange;
    const total = contentLength(response);
    const tooLarge = (): ClientError => badResponse(route, `is larger than the ${maxBytes} bytes allowed`);
    if (total !== undefined && total > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    if (!response.body) return new Uint8Array(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let length = 0;
    onProgress?.(0, total ?? 0);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        length += value.length;
        if (length > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge();
        }
        chunks.push(value);
        onProgress?.(length, total ?? length);
      }
    } catch (err) {
      throw this.networkError(route, err, exchange.timeout, exchange.caller);
    }
    if (total !== undefined && length !== total) throw badResponse(route, 'is shorter than its content-length');
    return chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(...chunks);
  }

  private networkError(route: string, err: unknown, timeout: AbortSignal, caller: AbortSignal | undefined): ClientError {
    if (ClientError.is(err)) return err;
    if (caller?.aborted) return new ClientError(ClientErrorCode.Closed, `${route} was cancelled`);
    if (timeout.aborted) return new ClientError(ClientErrorCode.ServerUnreachable, `${route}: no answer from the server in time`);
    return new ClientError(ClientErrorCode.ServerUnreachable, `${route}: cannot reach the server (${errorCodeOf(err)})`);
  }

  /** The ClientError for a non-2xx answer. */
  private async errorOf(route: string, exchange: Exchange): Promise<ClientError> {
    const { status } = exchange.response;
    let value: unknown;
    try {
      const bytes = await this.readBytes(route, exchange, MAX_ERROR_BYTES);
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (err) {
      if (ClientError.is(err, ClientErrorCode.ServerUnreachable) || ClientError.is(err, ClientErrorCode.Closed)) return err;
      value = undefined;
    }
    if (!isObject(value) || typeof value.code !== 'string' || !ERROR_CODE.test(value.code)) {
      // A gateway in front of the server (502, 503, 504 with its own page) means the server itself was not reached.
      if (status === 502 || status === 503 || status === 504) {
        return new ClientError(ClientErrorCode.ServerUnreachable, `${route}: the server is unavailable (HTTP ${status})`);
      }
      return badResponse(route, `is HTTP ${status} without an error code`);
    }
    const { code, message: _message, ...details } = value;
    if (code === 'DEVICE_LIST_MISMATCH') {
      const lists: Record<string, number[]> = {};
      for (const name of ['missingDevices', 'extraDevices', 'staleDevices']) {
        const list = details[name];
        if (!Array.isArray(list) || !list.every(isDeviceId)) return badResponse(route, `has a malformed ${name}`);
        lists[name] = list;
      }
      Object.assign(details, lists);
    }
    return new ClientError(ClientErrorCode.ServerError, `${route}: the server refused with ${code} (HTTP ${status})`, { code, status, details });
  }
}

function contentLength(response: Response): number | undefined {
  const declared = response.headers.get('content-length');
  return declared !== null && /^[0-9]{1,15}$/.test(declared) ? Number(declared) : undefined;
}

function checkIdentityKey(bytes: Uint8Array): void {
  try {
    decodeIdentityKey(bytes);
  } catch {
    throw invalidArgument(`the identity key must be an encoded identity key (${IDENTITY_KEY_LENGTH} bytes)`);
  }
}

function identityKeyOf(route: string, body: Fields): Uint8Array {
  const bytes = body.bytes('identityKey', IDENTITY_KEY_LENGTH);
  try {
    decodeIdentityKey(bytes);
  } catch {
    throw badResponse(route, 'has an undecodable identityKey');
  }
  return bytes;
}
