/** The request and response shapes of the server's HTTP API (docs/api.md "Routes"), as the client sees them. */
import type { KyberPreKey, OneTimePreKey, PreKeyBundle, SignedPreKey } from '@samizdat/protocol';
import type { Connector } from './connector.js';
import type { Credentials } from './endpoint.js';

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
  /**
   * The account's published sealed-sender key, when it has one: as the server stores it, unverified — check it with
   * verifySealedSenderKey against the identity key this device trusts before using it.
   */
  readonly sealedSenderKey?: Uint8Array;
  /** The account takes sealed envelopes from anyone (a sealed send then needs none of its access key). */
  readonly unrestrictedAccess?: true;
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
