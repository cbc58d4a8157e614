/**
 * The rows both engines read, and how they become the records of repository.ts. The drivers differ only in how they
 * return integers: better-sqlite3 as numbers (bigints for statements in safeIntegers mode), postgres.js BIGINT
 * columns as decimal strings; every mapper converts with Number() / BigInt(), which leaves the other kinds as they are.
 */
import type {
  AccountRecord,
  AttachmentRecord,
  DeviceRecord,
  GroupMember,
  OneTimePreKeyRecord,
  QueuedEnvelope,
  SignedPreKeyRecord,
  StoredProfile,
} from '../repository.js';

/** An integer column as a driver returns it (see the module comment). */
export type IntegerColumn = number | bigint | string;

export interface AccountRow {
  id: string;
  username_hash: Uint8Array | null;
  identity_key: Uint8Array;
  created_at: IntegerColumn;
  sealed_sender_key?: Uint8Array | null;
  access_key?: Uint8Array | null;
  /** SQLite answers 0 / 1, PostgreSQL a boolean. */
  unrestricted_access?: number | boolean | null;
}

export interface DeviceRow {
  account_id: string;
  device_id: number;
  registration_id: IntegerColumn;
  auth_hash: string;
  encrypted_name: Uint8Array;
  created_at: IntegerColumn;
  last_seen_at: IntegerColumn;
}

/** A signed prekey (EC or ML-KEM); a one-time EC prekey has no signature. */
export interface KeyRow {
  key_id: IntegerColumn;
  public_key: Uint8Array;
  signature: Uint8Array;
}

export type OneTimeKeyRow = Omit<KeyRow, 'signature'>;

export interface AttachmentRow {
  id: string;
  owner_account_id: string;
  size: IntegerColumn;
  created_at: IntegerColumn;
  expires_at: IntegerColumn;
}

/** An envelope as fetchQueue reads it. */
export interface EnvelopeRow {
  id: IntegerColumn;
  source_account_id: string | null;
  source_device_id: IntegerColumn | null;
  envelope: Uint8Array;
  received_at: IntegerColumn;
}

export interface GroupMemberRow {
  account_id: string;
  device_id: number;
}

/** A fresh Uint8Array, so callers never hold a Buffer (whose toString/JSON would expose the bytes differently). */
export function bytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

export function toAccount(row: AccountRow): AccountRecord {
  return {
    id: row.id,
    usernameHash: row.username_hash === null ? undefined : bytes(row.username_hash),
    identityKey: bytes(row.identity_key),
    createdAt: Number(row.created_at),
    ...(row.sealed_sender_key ? { sealedSenderKey: bytes(row.sealed_sender_key) } : {}),
    ...(row.access_key ? { accessKey: bytes(row.access_key) } : {}),
    ...(row.unrestricted_access ? { unrestrictedAccess: true } : {}),
  };
}

export function toDevice(row: DeviceRow): DeviceRecord {
  return {
    accountId: row.account_id,
    deviceId: row.device_id,
    registrationId: Number(row.registration_id),
    authHash: row.auth_hash,
    encryptedName: bytes(row.encrypted_name),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
  };
}

export function toSignedKey(row: KeyRow): SignedPreKeyRecord {
  return { keyId: Number(row.key_id), publicKey: bytes(row.public_key), signature: bytes(row.signature) };
}

export function toOneTimeKey(row: OneTimeKeyRow): OneTimePreKeyRecord {
  return { keyId: Number(row.key_id), publicKey: bytes(row.public_key) };
}

export function toAttachment(row: AttachmentRow): AttachmentRecord {
  return {
    id: row.id,
    ownerAccountId: row.owner_account_id,
    size: Number(row.size),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

export function toQueuedEnvelope(row: EnvelopeRow): QueuedEnvelope {
  return {
    id: BigInt(row.id),
    sourceAccountId: row.source_account_id ?? undefined,
    sourceDeviceId: row.source_device_id === null ? undefined : Number(row.source_device_id),
    envelope: bytes(row.envelope),
    receivedAt: Number(row.received_at),
  };
}

export function toGroupMember(row: GroupMemberRow): GroupMember {
  return { accountId: row.account_id, deviceId: row.device_id };
}

export interface ProfileRow {
  version: Uint8Array;
  name: Uint8Array | null;
  about: Uint8Array | null;
  avatar: Uint8Array | null;
}

export function toStoredProfile(row: ProfileRow): StoredProfile {
  const optional = (value: Uint8Array | null) => (value ? bytes(value) : undefined);
  return { version: bytes(row.version), name: optional(row.name), about: optional(row.about), avatar: optional(row.avatar) };
}
