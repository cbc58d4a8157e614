/**
 * What MlsEngine (../mls-engine.ts) takes and returns: the cipher suite and limits, a device's MLS identity and key
 * packages, the opaque GroupState, and the outcomes of commits and of processing a message (RFC 9420). Types only,
 * and the constants they name.
 */
import { defaultKeyRetentionConfig } from 'ts-mls';
import type { CiphersuiteName, CryptoProvider as MlsCryptoProvider } from 'ts-mls';
import type { CryptoProvider } from '../../crypto/provider.js';
import type { DeviceCredential } from '../device-credential.js';
import type { GroupMember } from '../mls-common.js';

/**
 * The default cipher suite: hybrid post-quantum HPKE (X-Wing = ML-KEM-768 + X25519), AES-256-GCM, SHA-512,
 * Ed25519 signatures. ts-mls 1.6 numbers it 83 (a private-use id; 2.0 renumbers PQ suites, so 1.6 and 2.0 groups
 * cannot talk — the version is pinned).
 */
export const DEFAULT_GROUP_CIPHER_SUITE = 'MLS_256_XWING_AES256GCM_SHA512_Ed25519' satisfies CiphersuiteName;
export type GroupCipherSuite = CiphersuiteName;

/** Key packages are valid this long (RFC 9420 §10 asks for a bounded lifetime). */
export const KEY_PACKAGE_LIFETIME_SECONDS = 90 * 24 * 3600;
/** Epochs whose secrets a member keeps for late application messages (ts-mls's default). */
export const RETAINED_EPOCHS = defaultKeyRetentionConfig.retainKeysForEpochs;
export const GROUP_ID_LENGTH = 32;

/** A device's MLS identity: its MLS signature key pair and the account-signed credential. Keep private. */
export interface MlsDeviceIdentity {
  readonly cipherSuite: GroupCipherSuite;
  readonly accountId: string;
  readonly deviceId: number;
  /** The account identity key (65-byte encoding). */
  readonly identityKey: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
  /** BasicCredential identity bytes (../device-credential.ts). */
  readonly credential: Uint8Array;
}

/** A key package: the public part for upload, the private part for the device's store. */
export interface KeyPackageBundle {
  /** The encoded MLSMessage(KeyPackage): what the server hands to whoever adds this device. */
  readonly publicKeyPackage: Uint8Array;
  /** KeyPackageRef (RFC 9420 §5.2): names this key package in a Welcome. */
  readonly ref: Uint8Array;
  /** May be used more than once; the server hands it out when the one-time ones run out. */
  readonly lastResort: boolean;
  /** Encoded private parts (init, leaf HPKE and signature keys) with the public package; never leaves the device. */
  readonly privateKeyPackage: Uint8Array;
}

/** An MLS group as one device sees it, at one epoch. An opaque value: encode it to store it. */
export interface GroupState {
  readonly [groupStateBrand]: true;
}
declare const groupStateBrand: unique symbol;

export interface DeviceAddress {
  readonly accountId: string;
  readonly deviceId: number;
}

/**
 * A commit we made. `state` is the group after the commit: adopt it only once the Delivery Service has accepted
 * `commit` for this epoch. If it was refused (another commit won the epoch), drop `state`, process the winner's
 * commit with the state you had, and redo the operation.
 */
export interface CommitResult {
  readonly state: GroupState;
  /** The MLSMessage carrying the commit, for every current member (and the DS). */
  readonly commit: Uint8Array;
  /** The MLSMessage(Welcome) for the members it adds (carries the ratchet tree), if any. */
  readonly welcome?: Uint8Array;
  /** Members the commit removes because a device of their own account proposed it (pending leaves it applies). */
  readonly left: readonly GroupMember[];
}

export type ProposalDescription =
  | { readonly type: 'add'; readonly member: DeviceCredential }
  | { readonly type: 'remove'; readonly member: GroupMember | undefined }
  | { readonly type: 'update'; readonly member: GroupMember | undefined }
  | { readonly type: 'other'; readonly proposalType: string };

/** What processing one incoming group message produced. */
export type ProcessedMessage =
  | {
      readonly kind: 'application';
      readonly state: GroupState;
      readonly plaintext: Uint8Array;
      readonly sender: GroupMember;
      readonly epoch: bigint;
    }
  | {
      readonly kind: 'commit';
      readonly state: GroupState;
      readonly epoch: bigint;
      readonly added: readonly GroupMember[];
      readonly removed: readonly GroupMember[];
      /**
       * The removed members whose removal was proposed by a device of their own account (a leave), as opposed to
       * removed by someone else. From the proposals' authenticated senders (RFC 9420 §12.1.3, §12.4).
       */
      readonly left: readonly GroupMember[];
      /**
       * Who made the commit, as its signature authenticates it (RFC 9420 §6.1): the committing member's leaf before
       * the commit, or for an external commit (§12.4.3.2) the new member's leaf after it.
       */
      readonly committer: GroupMember;
      /** True when this commit removed us: the state can no longer send or receive. */
      readonly removedSelf: boolean;
    }
  | {
      readonly kind: 'proposal';
      readonly state: GroupState;
      readonly proposal: ProposalDescription;
      readonly sender: GroupMember | undefined;
    };

/** What the cleartext framing of a message says (no keys needed): for routing, ordering and epoch checks. */
export type MessageInfo =
  | {
      readonly kind: 'application' | 'proposal' | 'commit';
      readonly groupId: Uint8Array;
      readonly epoch: bigint;
      readonly encrypted: boolean;
    }
  | { readonly kind: 'welcome' }
  | { readonly kind: 'group-info'; readonly groupId: Uint8Array; readonly epoch: bigint }
  | { readonly kind: 'key-package' };

export interface MlsEngineOptions {
  /** Our CryptoProvider: signs and verifies the device credential bindings (Ed25519 with the identity key). */
  readonly crypto: CryptoProvider;
  /**
   * Whether `identityKey` (65-byte encoding) is the account's identity key as this client knows it (pinned,
   * verified, or trusted on first use by the caller's policy). Asked for every member admitted, on every path.
   */
  readonly isTrustedIdentity: (accountId: string, identityKey: Uint8Array) => boolean | Promise<boolean>;
  /**
   * ts-mls crypto provider. Node: `nodeMlsCryptoProvider` (`@samizdat/protocol/groups-node`); default: ts-mls's, as
   * `defaultMlsCryptoProvider` wraps it (../default-mls-provider.ts).
   */
  readonly mlsCryptoProvider?: MlsCryptoProvider;
  /** Cipher suite of new identities and groups; default DEFAULT_GROUP_CIPHER_SUITE. */
  readonly cipherSuite?: GroupCipherSuite;
  /** Clock for key package lifetimes (seconds); default Date.now. */
  readonly now?: () => number;
}
