/**
 * Storage interfaces of the protocol (the protocol itself does no I/O; libsignal's storage traits play the same
 * role). The client implements them over SQLite or IndexedDB; `InMemoryProtocolStore` is the reference
 * implementation used by tests and benchmarks.
 */
import type { IdentityKeyPair } from '../keys/identity.js';
import type { KyberPreKey, OneTimePreKey, PreKeyId, SignedPreKey } from '../keys/prekeys.js';

/** A device of an account: sessions are keyed by this pair (Sesame §2). */
export interface ProtocolAddress {
  readonly account: string;
  readonly device: number;
}

export function addressKey(address: ProtocolAddress): string {
  return `${address.account}.${address.device}`;
}

export type IdentityDirection = 'sending' | 'receiving';

export interface IdentityStore {
  getIdentityKeyPair(): Promise<IdentityKeyPair>;
  /**
   * Whether `identityKey` (encoded, 65 bytes) may be used for `account`. Returning false makes the operation fail
   * with UNTRUSTED_IDENTITY. A client that lets messages flow after a key change (and warns) returns true.
   */
  isTrustedIdentity(account: string, identityKey: Uint8Array, direction: IdentityDirection): Promise<boolean>;
  /** Pins `identityKey` for `account`; returns true when it replaced a different key. */
  saveIdentity(account: string, identityKey: Uint8Array): Promise<boolean>;
}

export interface SessionStore {
  /** The serialized SessionRecord for the address, if any. */
  loadSession(address: ProtocolAddress): Promise<Uint8Array | undefined>;
  storeSession(address: ProtocolAddress, record: Uint8Array): Promise<void>;
  deleteSession(address: ProtocolAddress): Promise<void>;
  /** Device ids of `account` that have a session. */
  listSessionDevices(account: string): Promise<number[]>;
}

export interface PreKeyStore {
  loadSignedPreKey(id: PreKeyId): Promise<SignedPreKey | undefined>;
  loadOneTimePreKey(id: PreKeyId): Promise<OneTimePreKey | undefined>;
  /** PQXDH §3.4: a one-time prekey is deleted once used. */
  removeOneTimePreKey(id: PreKeyId): Promise<void>;
  loadKyberPreKey(id: PreKeyId): Promise<KyberPreKey | undefined>;
  /** Whether `baseKey` was already accepted with the last-resort ML-KEM prekey `id` (a replayed initial message). */
  hasKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): Promise<boolean>;
  /** After a successful initial message: delete a one-time ML-KEM prekey, or remember the base key of a last-resort one. */
  markKyberPreKeyUsed(id: PreKeyId, baseKey: Uint8Array): Promise<void>;
}

export interface ProtocolStore extends IdentityStore, SessionStore, PreKeyStore {}
