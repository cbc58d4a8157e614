/**
 * What an existing device hands a new device of the same account when linking it (Signal's ProvisionMessage plays
 * the same role): the account id, the account identity key pair, the one-use link code the server wants, and what
 * the new device should know from the start (the username, the contacts). It travels only inside the HPKE-sealed
 * provisioning message (@samizdat/protocol provisioning-cipher), never in clear.
 *
 * Encoding: a version byte (1), then UTF-8 JSON; byte fields in base64. Decoding is strict.
 */
import { ACCOUNT_ID_PATTERN, decodeIdentityKeyPair } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import { fromBase64, toBase64 } from '../transport/base64.js';

export const PROVISIONING_MESSAGE_VERSION = 1;
const MAX_CONTACTS = 10_000;
const ACCOUNT_ID = ACCOUNT_ID_PATTERN;

export interface ProvisionedContact {
  readonly accountId: string;
  readonly username?: string;
  readonly verified: boolean;
  /** The account talks with them / blocked them (message requests, contacts/requests.ts). */
  readonly accepted?: boolean;
  readonly blocked?: boolean;
}

export interface ProvisioningMessage {
  readonly accountId: string;
  /** encodeIdentityKeyPair of the account identity. */
  readonly identityKeyPair: Uint8Array;
  /** The server's one-use link code (POST /v1/devices/link-code). */
  readonly linkCode: string;
  readonly username?: string;
  readonly contacts: readonly ProvisionedContact[];
}

const bad = (what: string) => new ClientError(ClientErrorCode.LinkFailed, `the provisioning message is malformed: ${what}`);

export function encodeProvisioningMessage(message: ProvisioningMessage): Uint8Array {
  const json = JSON.stringify({
    accountId: message.accountId,
    identityKeyPair: toBase64(message.identityKeyPair),
    linkCode: message.linkCode,
    ...(message.username !== undefined ? { username: message.username } : {}),
    contacts: message.contacts.map((c) => ({
      accountId: c.accountId,
      verified: c.verified,
      ...(c.username !== undefined ? { username: c.username } : {}),
      ...(c.accepted ? { accepted: true } : {}),
      ...(c.blocked ? { blocked: true } : {}),
    })),
  });
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(1 + body.length);
  out[0] = PROVISIONING_MESSAGE_VERSION;
  out.set(body, 1);
  return out;
}

export function decodeProvisioningMessage(bytes: Uint8Array): ProvisioningMessage {
  if (bytes[0] !== PROVISIONING_MESSAGE_VERSION) throw bad('unknown version');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(1)));
  } catch {
    throw bad('not JSON');
  }
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.accountId !== 'string' || !ACCOUNT_ID.test(v.accountId)) throw bad('account id');
  if (typeof v.identityKeyPair !== 'string') throw bad('identity key pair');
  const identityKeyPair = fromBase64(v.identityKeyPair);
  if (!identityKeyPair) throw bad('identity key pair');
  try {
    decodeIdentityKeyPair(identityKeyPair);
  } catch {
    throw bad('identity key pair');
  }
  if (typeof v.linkCode !== 'string' || !/^[A-Za-z0-9_-]{22,64}$/.test(v.linkCode)) throw bad('link code');
  if (v.username !== undefined && (typeof v.username !== 'string' || v.username.length > 64)) throw bad('username');
  if (!Array.isArray(v.contacts) || v.contacts.length > MAX_CONTACTS) throw bad('contacts');
  const contacts = v.contacts.map((c: unknown): ProvisionedContact => {
    if (typeof c !== 'object' || c === null) throw bad('contact');
    const r = c as Record<string, unknown>;
    if (typeof r.accountId !== 'string' || !ACCOUNT_ID.test(r.accountId)) throw bad('contact account id');
    if (typeof r.verified !== 'boolean') throw bad('contact verified');
    if (r.username !== undefined && (typeof r.username !== 'string' || r.username.length > 64)) throw bad('contact username');
    if (r.accepted !== undefined && r.accepted !== true) throw bad('contact accepted');
    if (r.blocked !== undefined && r.blocked !== true) throw bad('contact blocked');
    return {
      accountId: r.accountId,
      verified: r.verified,
      ...(typeof r.username === 'string' ? { username: r.username } : {}),
      ...(r.accepted === true ? { accepted: true } : {}),
      ...(r.blocked === true ? { blocked: true } : {}),
    };
  });
  return {
    accountId: v.accountId,
    identityKeyPair,
    linkCode: v.linkCode,
    ...(typeof v.username === 'string' ? { username: v.username } : {}),
    contacts,
  };
}
