/**
 * The storage interface of the server: everything it keeps, behind one async API with two implementations —
 * SQLite (better-sqlite3, the embedded default, store/sqlite/) and PostgreSQL (store/postgres/). What they do alike
 * — the rows they map, the limits a write is admitted under, the ids an ack may name, who gets which group envelope,
 * the KeyPackage claiming loop — is in store/common/, once. One shared test suite (test/store/repository.suite.ts)
 * runs against both.
 *
 * The server stores no plaintext: usernames only as a keyed hash, device secrets only as a slow hash, envelopes
 * as the opaque bytes the sender produced. Every field is listed, with why it is needed, in docs/threat-model.md.
 *
 * Binary values are Uint8Array; ids of accounts are 32-character lowercase hex strings (16 random bytes); device ids
 * are small integers (1 is the device that created the account); times are milliseconds since the Unix epoch.
 */

export interface AccountRecord {
  readonly id: string;
  /** HMAC-SHA256(server username key, normalized username); undefined when the account has no username. */
  readonly usernameHash: Uint8Array | undefined;
  /** The account's encoded identity public key (65 bytes, @samizdat/protocol encodeIdentityKey). */
  readonly identityKey: Uint8Array;
  readonly createdAt: number;
  /** The published sealed-sender key (signed by the identity key, checked before storing); undefined until set. */
  readonly sealedSenderKey?: Uint8Array;
  /** The 16-byte access key a sealed send to this account must present; undefined until the account sets one. */
  readonly accessKey?: Uint8Array;
  /** The account takes sealed envelopes from anyone (any access key); absent: only with its access key. */
  readonly unrestrictedAccess?: true;
}

export interface DeviceRecord {
  readonly accountId: string;
  readonly deviceId: number;
  /** Random per registration; a client that addresses an older registration of this device id is stale. */
  readonly registrationId: number;
  /** scrypt hash of the device's auth secret, in the self-describing format of auth.ts. */
  readonly authHash: string;
  /** Opaque, end-to-end encrypted device name (the server cannot read it); may be empty. */
  readonly encryptedName: Uint8Array;
  readonly createdAt: number;
  readonly lastSeenAt: number;
}

export interface NewDevice {
  readonly registrationId: number;
  readonly authHash: string;
  readonly encryptedName: Uint8Array;
  readonly createdAt: number;
}

export interface SignedPreKeyRecord {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

export interface OneTimePreKeyRecord {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
}

/** The public keys of one device, as handed to a sender (one one-time key of each kind consumed). */
export interface DeviceBundle {
  readonly deviceId: number;
  readonly registrationId: number;
  readonly signedPreKey: SignedPreKeyRecord;
  readonly oneTimePreKey: OneTimePreKeyRecord | undefined;
  /** A one-time ML-KEM prekey while any is left, else the last-resort one. */
  readonly kyberPreKey: SignedPreKeyRecord;
}

export interface PreKeyCounts {
  readonly oneTime: number;
  readonly kyberOneTime: number;
}

export interface NewEnvelope {
  readonly accountId: string;
  readonly deviceId: number;
  /** Sender, when known to the server (not sealed): account id and device id. */
  readonly sourceAccountId: string | undefined;
  readonly sourceDeviceId: number | undefined;
  /** The encoded envelope (@samizdat/protocol encodeEnvelope), opaque to the server. */
  readonly envelope: Uint8Array;
  readonly receivedAt: number;
  readonly expiresAt: number;
}

export interface QueuedEnvelope {
  /** Server id, increasing in the order envelopes were stored (per queue order = id order). */
  readonly id: bigint;
  readonly sourceAccountId: string | undefined;
  readonly sourceDeviceId: number | undefined;
  readonly envelope: Uint8Array;
  readonly receivedAt: number;
}

export interface AttachmentRecord {
  /** Unguessable id: 32 random bytes as 64 lowercase hex characters. */
  readonly id: string;
  readonly ownerAccountId: string;
  readonly size: number;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** What an account may keep of live attachments (expiresAt > now): how many, and how many bytes in all. */
export interface AttachmentQuota {
  readonly maxCount: number;
  readonly maxBytes: number;
  /** Attachments that have expired at `now` count no more, swept or not. */
  readonly now: number;
}

export interface AttachmentUsage {
  readonly count: number;
  readonly bytes: number;
}

export class RepositoryError extends Error {
  override readonly name = 'RepositoryError';
  constructor(
    readonly code:
      | 'USERNAME_TAKEN'
      | 'ACCOUNT_NOT_FOUND'
      | 'DEVICE_NOT_FOUND'
      | 'TOO_MANY_DEVICES'
      | 'QUEUE_FULL'
      | 'GROUP_EXISTS'
      | 'GROUP_NOT_FOUND'
      | 'STALE_EPOCH'
      | 'QUOTA_EXCEEDED',
    message: string,
  ) {
    super(message);
  }
}

/** The errors both engines raise, with the same codes and messages. */
export function usernameTaken(): RepositoryError {
  return new RepositoryError('USERNAME_TAKEN', 'the username is taken');
}

export function accountNotFound(): RepositoryError {
  return new RepositoryError('ACCOUNT_NOT_FOUND', 'no such account');
}

export function deviceNotFound(): RepositoryError {
  return new RepositoryError('DEVICE_NOT_FOUND', 'no such device');
}

export function groupExists(): RepositoryError {
  return new RepositoryError('GROUP_EXISTS', 'a group with this id exists');
}

export function groupNotFound(): RepositoryError {
  return new RepositoryError('GROUP_NOT_FOUND', 'no such group');
}

export function queueFull(): RepositoryError {
  return new RepositoryError('QUEUE_FULL', 'a recipient device queue is full');
}

export function tooManyDevices(): RepositoryError {
  return new RepositoryError('TOO_MANY_DEVICES', 'the account has the maximum number of devices');
}

/** Which storage quota of an account a write would exceed. */
export type Quota = 'attachments' | 'attachmentBytes' | 'groups';

const QUOTA_NAMES: Record<Quota, string> = {
  attachments: 'live attachments',
  attachmentBytes: 'attachment bytes',
  groups: 'groups created',
};

/** A write that would take the account past one of its storage quotas: nothing was written. */
export class QuotaExceededError extends RepositoryError {
  constructor(
    readonly quota: Quota,
    readonly limit: number,
  ) {
    super('QUOTA_EXCEEDED', `the account has reached its quota of ${QUOTA_NAMES[quota]} (${limit})`);
  }
}

/** A commit made in an epoch the group has left: `epoch` is the group's current one. */
export class StaleEpochError extends RepositoryError {
  constructor(readonly epoch: number) {
    super('STALE_EPOCH', 'the group has moved to another epoch');
  }
}

/** A device in an MLS group, as the server knows it (for fan-out; the group's real membership is in MLS). */
export interface GroupMember {
  readonly accountId: string;
  readonly deviceId: number;
}

/** `accountId.deviceId`: one key per member device. */
export function memberKey(m: GroupMember): string {
  return `${m.accountId}.${m.deviceId}`;
}

/** The members without duplicates, in order. */
export function uniqueMembers(members: readonly GroupMember[]): GroupMember[] {
  const seen = new Set<string>();
  return members.filter((m) => {
    const key = memberKey(m);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface GroupRecord {
  /** 32 random bytes as 64 lowercase hex characters (the MLS group id). */
  readonly groupId: string;
  /** The MLS epoch the group is in: a commit is accepted only if made in this epoch. */
  readonly epoch: number;
  /** The latest GroupInfo (signed by a member; lets the account's new devices join by external commit). */
  readonly groupInfo: Uint8Array;
  readonly members: readonly GroupMember[];
}

/** An account's encrypted profile (docs/protocol.md "Profiles"): opaque ciphertexts and the version they go by. */
export interface StoredProfile {
  readonly version: Uint8Array;
  readonly name: Uint8Array | undefined;
  readonly about: Uint8Array | undefined;
  readonly avatar: Uint8Array | undefined;
}

/** A commit to apply (see Repository.commitGroup). */
export interface GroupCommit {
  readonly groupId: string;
  /** The epoch the commit was made in. */
  readonly epoch: number;
  readonly sender: GroupMember;
  /** The GroupInfo of the new epoch. */
  readonly groupInfo: Uint8Array;
  /** Member devices after the commit. */
  readonly members: readonly GroupMember[];
  /** SHA-256 of the new epoch's group send key (the committer's; undefined: sealed group sends wait for one). */
  readonly sendKeyHash: Uint8Array | undefined;
  /** The encoded envelope carrying the commit: for every device that was a member before, but the sender. */
  readonly commit: Uint8Array;
  /** The encoded envelope carrying the Welcome: for every device that is a member only after. */
  readonly welcome: Uint8Array | undefined;
  /** A device whose queue holds this many envelopes misses them (common/admission.ts withinQueueDepth). */
  readonly maxQueueDepth: number;
  readonly receivedAt: number;
  readonly expiresAt: number;
}

/** A KeyPackage handed out for one device of an account (see Repository.claimKeyPackages). */
export interface ClaimedKeyPackage {
  readonly accountId: string;
  readonly deviceId: number;
  readonly keyPackage: Uint8Array;
}

/** An envelope stored for one device by a group operation (for the wake-up). */
export interface StoredGroupEnvelope {
  readonly accountId: string;
  readonly deviceId: number;
  readonly id: bigint;
  readonly envelope: Uint8Array;
}

export interface Repository {
  /** Which engine, for /health and metrics ("sqlite" | "postgres"). */
  readonly engine: string;
  /** Applies the versioned schema migrations not yet applied (idempotent; called at start). */
  migrate(): Promise<void>;
  /** Flushes pending writes and closes connections. */
  close(): Promise<void>;
  /**
   * Moves deleted data out of the store's files where the engine can (SQLite: checkpoint and truncate the WAL after
   * secure_delete zeroed freed pages). Optional: PostgreSQL leaves this to the operator's VACUUM (docs/threat-model.md).
   */
  forget?(): Promise<boolean>;

  // Accounts
  /** Creates the account and its first device (device id 1) in one transaction. USERNAME_TAKEN on a clash. */
  createAccount(account: AccountRecord, firstDevice: NewDevice): Promise<void>;
  getAccount(accountId: string): Promise<AccountRecord | undefined>;
  findAccountByUsernameHash(usernameHash: Uint8Array): Promise<AccountRecord | undefined>;
  /** Stores the account's published sealed-sender key (replacing any); ACCOUNT_NOT_FOUND when it does not exist. */
  setSealedSenderKey(accountId: string, published: Uint8Array): Promise<void>;
  /** Sets the account's access key and whether anyone may send it sealed envelopes; ACCOUNT_NOT_FOUND. */
  setUnidentifiedAccess(accountId: string, accessKey: Uint8Array, unrestricted: boolean): Promise<void>;
  /** Sets or clears (undefined) the username hash. USERNAME_TAKEN when another account holds it. */
  setUsernameHash(accountId: string, usernameHash: Uint8Array | undefined): Promise<void>;
  /**
   * Deletes the account with its devices, keys, queued envelopes, link codes and attachment rows; returns the
   * attachment ids (the caller deletes the blobs). An account that does not exist yields [].
   */
  deleteAccount(accountId: string): Promise<string[]>;

  // Devices
  /**
   * Adds a device with the next free id (max + 1); TOO_MANY_DEVICES past `maxDevices`, ACCOUNT_NOT_FOUND.
   * Note max + 1 reuses the id of a removed highest device; its new registrationId tells senders it is a new one.
   */
  addDevice(accountId: string, device: NewDevice, maxDevices: number): Promise<number>;
  getDevice(accountId: string, deviceId: number): Promise<DeviceRecord | undefined>;
  listDevices(accountId: string): Promise<DeviceRecord[]>;
  /** Deletes the device with its keys and queue. Returns false when it did not exist. */
  removeDevice(accountId: string, deviceId: number): Promise<boolean>;
  touchDevice(accountId: string, deviceId: number, at: number): Promise<void>;

  /** The key directory: prekeys for sessions, MLS KeyPackages for groups (each engine's keys module). */
  readonly keys: KeyDirectory;

  // Queues
  /**
   * Durably stores all envelopes (committed, synced to disk) before resolving. Concurrent calls share transactions,
   * as ack and touchDevice calls do: SQLite commits the calls of one event-loop turn in one transaction
   * (sqlite/group-commit.ts), PostgreSQL the calls made while its previous batch was starting, up to 1,000 per
   * transaction (postgres/queue-batch.ts). Each call stays all-or-nothing within its batch: QUEUE_FULL (nothing
   * stored) when a target queue would exceed `maxQueueDepth`, DEVICE_NOT_FOUND (nothing stored) when a target
   * device does not exist (it was removed after the caller listed the devices); the other calls of the batch go on.
   * Returns the server ids in input order. Within one queue, ids increase in commit order too, so a reader that has
   * seen id n never later finds a new envelope below n.
   */
  enqueue(envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<bigint[]>;
  /** Up to `limit` envelopes of the device's queue with id > afterId, in id order, not expired at `now`. */
  fetchQueue(accountId: string, deviceId: number, afterId: bigint, limit: number, now: number): Promise<QueuedEnvelope[]>;
  /**
   * Deletes the given envelopes of this device's queue only; returns the ids that existed and were deleted (in
   * input order, each once). Ids of other devices' envelopes and unknown ids are ignored.
   */
  ack(accountId: string, deviceId: number, ids: readonly bigint[]): Promise<bigint[]>;
  /** Envelopes stored for the device, counting expired ones the sweep has not deleted yet (as the depth limit does). */
  queueDepth(accountId: string, deviceId: number): Promise<number>;
  /** Total undelivered envelopes (for metrics). */
  totalQueued(): Promise<number>;
  /** Deletes envelopes with expiresAt <= now; returns how many. */
  deleteExpiredEnvelopes(now: number): Promise<number>;

  // Attachments (metadata; the bytes live in the blob store)
  /**
   * Stores the record if its owner stays within `quota` with it (common/admission.ts), else QUOTA_EXCEEDED and
   * nothing is stored. The check and the insert are one step for the account: concurrent uploads of one account, on
   * any node, cannot both pass on the same room. ACCOUNT_NOT_FOUND when the owner does not exist.
   */
  createAttachment(record: AttachmentRecord, quota: AttachmentQuota): Promise<void>;
  /** The account's live attachments at `now` (expired ones not counted). */
  attachmentUsage(accountId: string, now: number): Promise<AttachmentUsage>;
  getAttachment(id: string): Promise<AttachmentRecord | undefined>;
  deleteAttachment(id: string): Promise<void>;
  /** Deletes expired attachment rows and returns their ids (the caller deletes the blobs). */
  deleteExpiredAttachments(now: number): Promise<string[]>;

  // Device linking
  /**
   * Stores a one-use link code (its SHA-256 hash) that lets a new device join `accountId` until `expiresAt`
   * (valid while now < expiresAt, like every expiry here). ACCOUNT_NOT_FOUND when the account does not exist.
   */
  createLinkCode(accountId: string, codeHash: Uint8Array, expiresAt: number): Promise<void>;
  /** Atomically consumes the code: the account id if it existed and had not expired, else undefined. */
  consumeLinkCode(codeHash: Uint8Array, now: number): Promise<string | undefined>;
  /** Deletes link codes with expiresAt <= now that were never used; returns how many (optional: for the sweep). */
  deleteExpiredLinkCodes(now: number): Promise<number>;

  // Groups (the MLS Delivery Service, RFC 9420 §16.8 and RFC 9750 §5)
  /**
   * Registers a new group at `epoch` with `creator` as its only device. GROUP_EXISTS if the id is taken;
   * QUOTA_EXCEEDED (nothing stored) when the creator's account already created `maxGroups` groups that a device of it
   * is still a member of — checked and inserted as one step for the account, like createAttachment's quota.
   */
  createGroup(
    groupId: string,
    epoch: number,
    creator: GroupMember,
    groupInfo: Uint8Array,
    sendKeyHash: Uint8Array | undefined,
    now: number,
    maxGroups: number,
  ): Promise<void>;
  /** Replaces the account's profile (ACCOUNT_NOT_FOUND if there is no such account). */
  setProfile(accountId: string, profile: StoredProfile, now: number): Promise<void>;
  /** The account's profile, if it has one (the caller checks the version). */
  getProfile(accountId: string): Promise<StoredProfile | undefined>;
  /** SHA-256 of the group's current send key, as its last committer registered it (undefined: none, or no group). */
  getGroupSendKeyHash(groupId: string): Promise<Uint8Array | undefined>;
  /** Groups the account created that a device of it is still a member of (what maxGroups counts). */
  countCreatedGroups(accountId: string): Promise<number>;
  getGroup(groupId: string): Promise<GroupRecord | undefined>;
  /** Groups in which some device of `accountId` is a member. */
  listGroups(accountId: string): Promise<{ groupId: string; epoch: number }[]>;
  /**
   * Applies a commit atomically: STALE_EPOCH (StaleEpochError with the current epoch) unless the group is at
   * `commit.epoch`; else the group moves to epoch + 1 with the new GroupInfo and member list, and in the same
   * transaction the commit envelope is stored for every device that was a member before (but the sender) and the
   * Welcome for every device that is new (common/group-fan-out.ts). Devices that no longer exist are skipped, and so
   * are full queues (common/admission.ts withinQueueDepth); each member device's row is read once. Returns what was
   * stored.
   */
  commitGroup(commit: GroupCommit): Promise<StoredGroupEnvelope[]>;
  /**
   * Stores `envelope` for every member device of the group but the sender (GROUP_NOT_FOUND if none), full queues
   * excepted (common/admission.ts withinQueueDepth). `sender` undefined: a sealed group send, stored for every member
   * device (the sender's own included: the server does not know which it is) with no source.
   */
  fanOutGroup(
    groupId: string,
    sender: GroupMember | undefined,
    envelope: Uint8Array,
    receivedAt: number,
    expiresAt: number,
    maxQueueDepth: number,
  ): Promise<StoredGroupEnvelope[]>;
}

/**
 * Prekeys (X3DH/PQXDH bundles, docs/protocol.md) and MLS KeyPackages, per device. Both engines implement it in a
 * module of their own (sqlite/sqlite-keys.ts, postgres/postgres-keys.ts); the repository exposes it as `keys`.
 */
export interface KeyDirectory {
  // Prekeys (each write rejects with DEVICE_NOT_FOUND when the device does not exist)
  setSignedPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void>;
  setKyberLastResortPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void>;
  /** Adds one-time keys; a key id already present for the device is replaced. */
  addOneTimePreKeys(accountId: string, deviceId: number, keys: readonly OneTimePreKeyRecord[]): Promise<void>;
  addKyberOneTimePreKeys(accountId: string, deviceId: number, keys: readonly SignedPreKeyRecord[]): Promise<void>;
  /**
   * The bundle of one device, atomically consuming one one-time EC prekey and one one-time ML-KEM prekey (two
   * concurrent calls never get the same one-time key). Undefined when the device has no signed prekey or no
   * ML-KEM prekey at all.
   */
  takeBundle(accountId: string, deviceId: number): Promise<DeviceBundle | undefined>;
  countPreKeys(accountId: string, deviceId: number): Promise<PreKeyCounts>;

  // MLS KeyPackages (RFC 9420 §10): one consumed per device and join; a last-resort one is reused when none is left
  /** Adds key packages of a device (and replaces its last-resort package when one is given). */
  addKeyPackages(accountId: string, deviceId: number, keyPackages: readonly Uint8Array[], lastResort: Uint8Array | undefined): Promise<void>;
  /**
   * One key package for every device of each account (common/key-packages.ts), in one transaction: concurrent
   * claims never get the same one-use package, and a claim that fails consumes none (last-resort ones are kept).
   */
  claimKeyPackages(accountIds: readonly string[]): Promise<ClaimedKeyPackage[]>;
  /** One-use key packages the device has left. */
  countKeyPackages(accountId: string, deviceId: number): Promise<number>;
}
