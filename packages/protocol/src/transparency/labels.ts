/**
 * What Samizdat's transparency log holds (docs/protocol.md "Key transparency"): three kinds of label, each a type
 * byte then its name, and the encoding of their values. A change is a new version of the label, never an overwrite.
 *
 *   account   0x01 ‖ account id (16)              → identity key (65) ‖ optional sealed-sender KEM key
 *   username  0x02 ‖ SHA-256(normalized username) → account id (16)
 *   device    0x03 ‖ account id (16) ‖ device id  → registration id ‖ active (a removed device is a new version)
 */
import { fromHex, toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { IDENTITY_KEY_LENGTH } from '../keys/identity.js';
import { SEALED_SENDER_KEY_LENGTH } from '../sealed-sender/sealed-sender-key.js';
import { TlsReader, TlsWriter } from './tls.js';

export const LabelType = { Account: 1, Username: 2, Device: 3 } as const;
export type LabelType = (typeof LabelType)[keyof typeof LabelType];

const ACCOUNT_ID_LENGTH = 16;

function accountIdBytes(accountId: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(accountId)) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'an account id is 32 lowercase hex characters');
  return fromHex(accountId);
}

export function accountLabel(accountId: string): Uint8Array {
  return new TlsWriter().u8(LabelType.Account).fixed(accountIdBytes(accountId)).finish();
}

/** `username` as the server normalizes it (NFKC, lower case): the caller normalizes. */
export async function usernameLabel(crypto: CryptoProvider, normalizedUsername: string): Promise<Uint8Array> {
  if (normalizedUsername.length === 0) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'a username is not empty');
  return new TlsWriter().u8(LabelType.Username).fixed(await crypto.sha256(new TextEncoder().encode(normalizedUsername))).finish();
}

export function deviceLabel(accountId: string, deviceId: number): Uint8Array {
  return new TlsWriter().u8(LabelType.Device).fixed(accountIdBytes(accountId)).u32(deviceId).finish();
}

export interface AccountValue {
  readonly identityKey: Uint8Array;
  /** The encoded, identity-signed sealed-sender KEM key (sealed-sender/sealed-sender-key.ts), once published. */
  readonly sealedSenderKey?: Uint8Array;
}

export function encodeAccountValue(value: AccountValue): Uint8Array {
  if (value.identityKey.length !== IDENTITY_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'not an identity key');
  const w = new TlsWriter().fixed(value.identityKey);
  if (value.sealedSenderKey === undefined) return w.u8(0).finish();
  if (value.sealedSenderKey.length !== SEALED_SENDER_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'not a sealed-sender key');
  return w.u8(1).vector(value.sealedSenderKey, 2).finish();
}

export function decodeAccountValue(bytes: Uint8Array): AccountValue {
  const r = new TlsReader(bytes);
  const identityKey = r.fixed(IDENTITY_KEY_LENGTH, 'identity key');
  const sealedSenderKey = r.optional('sealed-sender key', (o) => o.vector(2, 'sealed-sender key', SEALED_SENDER_KEY_LENGTH));
  r.end('account value');
  return sealedSenderKey === undefined ? { identityKey } : { identityKey, sealedSenderKey };
}

export function encodeUsernameValue(accountId: string): Uint8Array {
  return accountIdBytes(accountId);
}

export function decodeUsernameValue(bytes: Uint8Array): string {
  if (bytes.length !== ACCOUNT_ID_LENGTH) throw new ProtocolError(ProtocolErrorCode.Decode, 'a username value is an account id');
  return toHex(bytes);
}

export interface DeviceValue {
  readonly registrationId: number;
  /** False once the device was removed from the account. */
  readonly active: boolean;
}

export function encodeDeviceValue(value: DeviceValue): Uint8Array {
  return new TlsWriter().u32(value.registrationId).u8(value.active ? 1 : 0).finish();
}

export function decodeDeviceValue(bytes: Uint8Array): DeviceValue {
  const r = new TlsReader(bytes);
  const registrationId = r.u32('registration id');
  const active = r.u8('active');
  if (active > 1) throw new ProtocolError(ProtocolErrorCode.Decode, 'invalid device state');
  r.end('device value');
  return { registrationId, active: active === 1 };
}
