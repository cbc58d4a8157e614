/**
 * Both directions of the HTTP API's contract: what the client checks before a request leaves (ids, key ids, sends)
 * and how it encodes keys and devices as JSON, and the validator every answer goes through (the server is untrusted
 * input: every field used is checked for type, range and length), with the server's error details read out.
 */
import { ATTACHMENT_ID_PATTERN, GROUP_ID_PATTERN, MAX_KEYS_PER_UPLOAD, MAX_KEY_ID, MAX_REGISTRATION_ID, MAX_SEND_COPIES, MAX_WAIT_SECONDS } from '@samizdat/protocol';
import { IDENTITY_KEY_LENGTH, SEALED_SENDER_KEY_LENGTH, decodeIdentityKey } from '@samizdat/protocol';
import type { KyberPreKey, OneTimePreKey, SignedPreKey } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import { fromBase64, toBase64 } from './base64.js';
import { checkAccountId, checkDeviceId } from './endpoint.js';
import type { DeviceListMismatch, KeyUpload, NewDevice, OutgoingEnvelope } from './api-types.js';

export const GROUP_ID = GROUP_ID_PATTERN;

/** INVALID_ARGUMENT unless `groupId` is a group id: 64 lowercase hex characters. */
export function checkGroupId(groupId: string): void {
  if (typeof groupId !== 'string' || !GROUP_ID.test(groupId)) throw invalidArgument('a group id is 64 lowercase hex characters');
}

/** Group send keys and their hashes are 32 bytes (docs/protocol.md "Group send keys"). */
export const GROUP_SEND_KEY_BYTES = 32;

/** INVALID_ARGUMENT unless `hash` is a group send key hash (32 bytes). */
export function checkSendKeyHash(hash: Uint8Array): Uint8Array {
  if (hash.length !== GROUP_SEND_KEY_BYTES) throw invalidArgument(`a group send key hash is ${GROUP_SEND_KEY_BYTES} bytes`);
  return hash;
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

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_ATTACHMENT_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;
/** Largest JSON answer read (a page of 100 envelopes of up to 300 KiB each, in base64, fits). */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;
/** Largest error body read; a real one is a few hundred bytes. */
export const MAX_ERROR_BYTES = 64 * 1024;
/** Server-side bounds (packages/server/src/schemas.ts, routes/messages.ts). */
export { MAX_KEYS_PER_UPLOAD, MAX_KEY_ID, MAX_REGISTRATION_ID, MAX_WAIT_SECONDS };
/** Envelopes in one send: the server's MAX_SEND_COPIES (@samizdat/protocol api/limits.ts). */
export const MAX_DEVICES_PER_SEND = MAX_SEND_COPIES;
export const MAX_U64 = 0xffffffffffffffffn;
/** Key lengths of PQXDH §2: X25519 public keys, Ed25519 signatures, ML-KEM-1024 encapsulation keys. */
export const X25519_PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MLKEM1024_PUBLIC_KEY_BYTES = 1568;

export const PASSWORD = /^[A-Za-z0-9_-]{22,128}$/;
export const LINK_CODE = /^[A-Za-z0-9_-]{22,64}$/;
export const PROVISIONING_ADDRESS = /^[A-Za-z0-9_-]{43}$/;
export const ATTACHMENT_ID = ATTACHMENT_ID_PATTERN;
export const ENVELOPE_ID = /^[0-9]{1,20}$/;
export const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export function invalidArgument(message: string): ClientError {
  return new ClientError(ClientErrorCode.InvalidArgument, message);
}

export function badResponse(route: string, what: string): ClientError {
  return new ClientError(ClientErrorCode.BadResponse, `${route}: the server's answer ${what}`);
}

// ---- reading answers ----

type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed access to the fields of one JSON object of an answer; anything unexpected is BAD_RESPONSE. */
export class Fields {
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

export function checkKeyId(id: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_KEY_ID) throw invalidArgument(`${what} id must be an unsigned 32-bit integer`);
}

export function signedKeyJson(key: SignedPreKey): JsonObject {
  checkKeyId(key.id, 'signed prekey');
  return { keyId: key.id, publicKey: toBase64(key.keyPair.publicKey), signature: toBase64(key.signature) };
}

export function kyberKeyJson(key: KyberPreKey, lastResort: boolean): JsonObject {
  checkKeyId(key.id, 'ML-KEM prekey');
  if (key.lastResort !== lastResort) {
    throw invalidArgument(lastResort ? 'kyberLastResortPreKey must be a last-resort key' : 'kyberPreKeys must be one-time keys');
  }
  return { keyId: key.id, publicKey: toBase64(key.keyPair.publicKey), signature: toBase64(key.signature) };
}

export function oneTimeKeyJson(key: OneTimePreKey): JsonObject {
  checkKeyId(key.id, 'one-time prekey');
  return { keyId: key.id, publicKey: toBase64(key.keyPair.publicKey) };
}

export function keysJson(keys: KeyUpload): JsonObject {
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

export function checkRegistrationId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_REGISTRATION_ID) throw invalidArgument('registration id must be an integer from 1 to 2^31 − 1');
}

export function newDeviceJson(device: NewDevice): JsonObject {
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

export function errorCodeOf(err: unknown): string {
  // undici wraps the system error as `cause`; node:http and the proxy agents throw it directly.
  for (let e: unknown = err, depth = 0; isObject(e) && depth < 4; e = e.cause, depth++) {
    if (typeof e.code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(e.code)) return e.code;
  }
  return err instanceof Error && /^[A-Za-z]{1,40}$/.test(err.name) ? err.name : 'unknown error';
}



export function contentLength(response: Response): number | undefined {
  const declared = response.headers.get('content-length');
  return declared !== null && /^[0-9]{1,15}$/.test(declared) ? Number(declared) : undefined;
}

export function checkIdentityKey(bytes: Uint8Array): void {
  try {
    decodeIdentityKey(bytes);
  } catch {
    throw invalidArgument(`the identity key must be an encoded identity key (${IDENTITY_KEY_LENGTH} bytes)`);
  }
}

/**
 * An account's published sealed-sender key, when the answer has one (its signature is the caller's to check), and
 * whether it takes sealed envelopes from anyone.
 */
export function sealedSenderKeyOf(body: Fields): { sealedSenderKey?: Uint8Array; unrestrictedAccess?: true } {
  return {
    ...(body.has('sealedSenderKey') ? { sealedSenderKey: body.bytes('sealedSenderKey', SEALED_SENDER_KEY_LENGTH) } : {}),
    ...(body.has('unrestrictedAccess') && body.boolean('unrestrictedAccess') ? { unrestrictedAccess: true as const } : {}),
  };
}

export function identityKeyOf(route: string, body: Fields): Uint8Array {
  const bytes = body.bytes('identityKey', IDENTITY_KEY_LENGTH);
  try {
    decodeIdentityKey(bytes);
  } catch {
    throw badResponse(route, 'has an undecodable identityKey');
  }
  return bytes;
}
