/**
 * Samizdat's interface to MLS (RFC 9420), over ts-mls 1.6.4. Nothing else in the repository imports ts-mls: the
 * client SDK sees devices, key packages, group states and messages as our types and bytes.
 *
 * - Members are devices. Each leaf's credential binds the device's MLS signature key to its account identity key
 *   (./device-credential.ts). Every admission path — joining from a Welcome (the whole tree), processing a commit
 *   that adds members (Add proposals, by value or by reference), an external join (the joiner checks the tree,
 *   members check the joiner's leaf) and the committer's own check of the key packages it adds — runs ts-mls's
 *   AuthenticationService, which here verifies the binding and asks the caller's `isTrustedIdentity`. A refusal
 *   throws ProtocolError BAD_SIGNATURE (binding not signed by the identity key in it) or UNTRUSTED_IDENTITY (the
 *   caller does not accept that identity key for that account), and the state passed in stays valid.
 * - State moves as a value: every operation returns a new GroupState and leaves its input usable (ts-mls never
 *   mutates a state, and we never wipe secrets a previous state still shares). That is what makes a rebase possible:
 *   a commit the Delivery Service refused is dropped by keeping the old state (see `createCommit` results below).
 * - Handshake messages are accepted only for the current epoch: anything else throws ProtocolError WRONG_EPOCH
 *   (the DS orders commits per epoch; a client that lost the race processes the winner's commit, then retries).
 */
import {
  createApplicationMessage,
  createCommit,
  createGroup as mlsCreateGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  createProposal,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultPaddingConfig,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  joinGroupExternal,
  makePskIndex,
  processPrivateMessage,
  processPublicMessage,
} from 'ts-mls';
import type {
  AuthenticationService,
  CiphersuiteImpl,
  CiphersuiteName,
  ClientConfig,
  ClientState,
  Credential,
  IncomingMessageCallback,
  ProposalWithSender,
  CryptoProvider as MlsCryptoProvider,
  KeyPackage,
  MLSMessage,
  PrivateKeyPackage,
  Proposal,
  RatchetTree,
} from 'ts-mls';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { decryptGroupInfo, decryptGroupSecrets } from 'ts-mls/welcome.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { constantTimeEqual, toHex } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { IdentityKeyPair } from '../keys/identity.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';
import { pad, unpad } from '../wire/padding.js';
import { defaultMlsCryptoProvider } from './default-mls-provider.js';
import { basicIdentity, decodeMessage, leafAt, mapErrors, memberOf, membersOf } from './mls-common.js';
import type { GroupMember } from './mls-common.js';
import type { DeviceCredential } from './device-credential.js';
import { TreeCache, decodeGroupStateBytes, encodeGroupStateV3 } from './group-state-codec.js';
import {
  assertDeviceAddress,
  decodeDeviceCredential,
  signDeviceCredential,
  verifyDeviceCredential,
} from './device-credential.js';

export type { GroupMember } from './mls-common.js';

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

const DEVICE_IDENTITY_VERSION = 0x01;
const KEY_PACKAGE_BUNDLE_VERSION = 0x01;
const MAX_FIELD = 1 << 20;

/** A device's MLS identity: its MLS signature key pair and the account-signed credential. Keep private. */
export interface MlsDeviceIdentity {
  readonly cipherSuite: GroupCipherSuite;
  readonly accountId: string;
  readonly deviceId: number;
  /** The account identity key (65-byte encoding). */
  readonly identityKey: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
  /** BasicCredential identity bytes (./device-credential.ts). */
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

/** A group member: one device of one account, at a leaf of the ratchet tree. */

/**
 * The members of `removed` whose Remove proposal (among `proposals`, with their authenticated senders) came from a
 * device of their own account: they left, rather than being removed by someone else.
 */
function leavers(tree: RatchetTree, proposals: readonly ProposalWithSender[], removed: readonly GroupMember[]): GroupMember[] {
  const proposer = new Map<number, string | undefined>();
  for (const p of proposals) {
    if (p.proposal.proposalType !== 'remove') continue;
    const leaf = p.senderLeafIndex === undefined ? undefined : leafAt(tree, p.senderLeafIndex);
    proposer.set(p.proposal.remove.removed, leaf === undefined || p.senderLeafIndex === undefined ? undefined : memberOf(leaf, p.senderLeafIndex).accountId);
  }
  return removed.filter((m) => proposer.get(m.leafIndex) === m.accountId);
}

/** What ts-mls reports of a commit while processing it: its authenticated sender and every proposal it applies. */
interface CommitSeen {
  readonly senderLeafIndex: number | undefined;
  readonly proposals: readonly ProposalWithSender[];
}

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
   * `defaultMlsCryptoProvider` wraps it (./default-mls-provider.ts).
   */
  readonly mlsCryptoProvider?: MlsCryptoProvider;
  /** Cipher suite of new identities and groups; default DEFAULT_GROUP_CIPHER_SUITE. */
  readonly cipherSuite?: GroupCipherSuite;
  /** Clock for key package lifetimes (seconds); default Date.now. */
  readonly now?: () => number;
}

/** Most credential checks repeat (every commit re-validates leaves); the signature result is a pure function. */
const MAX_VERIFIED_CACHE = 100_000;

function inner(state: GroupState): ClientState {
  return state as unknown as ClientState;
}

function outer(state: ClientState): GroupState {
  return state as unknown as GroupState;
}

/**
 * States whose current epoch's secret tree (RFC 9420 §9) may have been derived from zeros by the broken ts-mls patch
 * (docs/protocol.md "Secret trees derived from zeros"). Kept beside the states, not inside them, so that nothing
 * ts-mls copies carries the mark by accident: `derivedState` alone passes it on.
 */
const zeroKeyedStates = new WeakSet<object>();

/**
 * The state an operation on `before` produced. Within one epoch (a message sent or received, a proposal) the secret
 * tree is the same one, so a zero-keyed mark stays; a new epoch (a commit made or processed) has a tree derived from
 * its own encryption_secret, so it is not marked.
 */
function derivedState(before: ClientState, after: ClientState): GroupState {
  if (zeroKeyedStates.has(before) && after.groupContext.epoch === before.groupContext.epoch) zeroKeyedStates.add(after);
  return outer(after);
}


function sameDevice(a: DeviceAddress, b: DeviceAddress): boolean {
  return a.accountId === b.accountId && a.deviceId === b.deviceId;
}

function mlsMessageBytes(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

/** The cleartext framing of an MLS message (RFC 9420 §6): kind, group, epoch. Throws DECODE_ERROR. */
export function inspectMessage(bytes: Uint8Array): MessageInfo {
  const message = decodeMessage(bytes);
  switch (message.wireformat) {
    case 'mls_private_message': {
      const pm = message.privateMessage;
      return { kind: pm.contentType, groupId: pm.groupId, epoch: pm.epoch, encrypted: true };
    }
    case 'mls_public_message': {
      const content = message.publicMessage.content;
      return { kind: content.contentType, groupId: content.groupId, epoch: content.epoch, encrypted: false };
    }
    case 'mls_welcome':
      return { kind: 'welcome' };
    case 'mls_group_info':
      return {
        kind: 'group-info',
        groupId: message.groupInfo.groupContext.groupId,
        epoch: message.groupInfo.groupContext.epoch,
      };
    case 'mls_key_package':
      return { kind: 'key-package' };
  }
}

/** The group's id (32 random bytes for groups we create). */
export function groupIdOf(state: GroupState): Uint8Array {
  return inner(state).groupContext.groupId;
}

export function epochOf(state: GroupState): bigint {
  return inner(state).groupContext.epoch;
}

/**
 * True when this epoch's secret tree may have been derived from zeros (a state stored by a build with the broken
 * ts-mls patch, docs/protocol.md "Secret trees derived from zeros"): commit (e.g. `update`) before encrypting
 * anything. Any new epoch — our commit or another member's — clears it.
 */
export function needsRekey(state: GroupState): boolean {
  return zeroKeyedStates.has(inner(state));
}

/** The ratchet tree hash of the current epoch (RFC 9420 §7.8): equal on every member in the same epoch. */
export function treeHashOf(state: GroupState): Uint8Array {
  return inner(state).groupContext.treeHash;
}

/** The epoch authenticator (RFC 9420 §8.7): equal on every member in the same epoch; for out-of-band checks. */
export function epochAuthenticatorOf(state: GroupState): Uint8Array {
  return inner(state).keySchedule.epochAuthenticator;
}

/** The current members (every non-blank leaf), in leaf order. */
export function membersOfGroup(state: GroupState): GroupMember[] {
  return membersOf(inner(state).ratchetTree);
}

/** Our own leaf. */
export function ownMember(state: GroupState): GroupMember {
  const s = inner(state);
  const leaf = leafAt(s.ratchetTree, s.privatePath.leafIndex);
  if (leaf === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'not a member of this group');
  return memberOf(leaf, s.privatePath.leafIndex);
}

/** False once a commit removed us. */
export function isActiveMember(state: GroupState): boolean {
  return inner(state).groupActiveState.kind === 'active';
}

/** Encodes a device identity for the device's private store. */
export function encodeMlsDeviceIdentity(identity: MlsDeviceIdentity): Uint8Array {
  return new BinaryWriter()
    .u8(DEVICE_IDENTITY_VERSION)
    .bytes(new TextEncoder().encode(identity.cipherSuite))
    .bytes(identity.signaturePublicKey)
    .bytes(identity.signaturePrivateKey)
    .bytes(identity.credential)
    .finish();
}

/** Inverse of encodeMlsDeviceIdentity (DECODE_ERROR / UNKNOWN_VERSION on bad input; the credential is parsed). */
export function decodeMlsDeviceIdentity(bytes: Uint8Array): MlsDeviceIdentity {
  const reader = new BinaryReader(bytes);
  if (reader.u8('version') !== DEVICE_IDENTITY_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown MLS device identity version');
  }
  const cipherSuite = new TextDecoder().decode(reader.bytes(128, 'cipher suite')) as GroupCipherSuite;
  assertCipherSuite(cipherSuite);
  const signaturePublicKey = reader.bytes(MAX_FIELD, 'signature public key');
  const signaturePrivateKey = reader.bytes(MAX_FIELD, 'signature private key');
  const credential = reader.bytes(MAX_FIELD, 'credential');
  reader.end('MLS device identity');
  const { accountId, deviceId, identityKey } = decodeDeviceCredential(credential);
  return { cipherSuite, accountId, deviceId, identityKey, signaturePublicKey, signaturePrivateKey, credential };
}

function assertCipherSuite(name: string): asserts name is GroupCipherSuite {
  try {
    if (getCiphersuiteFromName(name as GroupCipherSuite) !== undefined) return;
  } catch {
    // fall through
  }
  throw new ProtocolError(ProtocolErrorCode.Decode, 'unknown MLS cipher suite');
}

function encodeKeyPackageBundle(
  publicKeyPackage: Uint8Array,
  privatePackage: PrivateKeyPackage,
  lastResort: boolean,
): Uint8Array {
  return new BinaryWriter()
    .u8(KEY_PACKAGE_BUNDLE_VERSION)
    .bool(lastResort)
    .bytes(publicKeyPackage)
    .bytes(privatePackage.initPrivateKey)
    .bytes(privatePackage.hpkePrivateKey)
    .bytes(privatePackage.signaturePrivateKey)
    .finish();
}

function decodeKeyPackageBundle(bytes: Uint8Array): {
  keyPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  lastResort: boolean;
} {
  const reader = new BinaryReader(bytes);
  if (reader.u8('version') !== KEY_PACKAGE_BUNDLE_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown key package bundle version');
  }
  const lastResort = reader.bool('last resort');
  const keyPackage = keyPackageFrom(reader.bytes(MAX_FIELD, 'key package'));
  const privatePackage: PrivateKeyPackage = {
    initPrivateKey: reader.bytes(MAX_FIELD, 'init key'),
    hpkePrivateKey: reader.bytes(MAX_FIELD, 'leaf key'),
    signaturePrivateKey: reader.bytes(MAX_FIELD, 'signature key'),
  };
  reader.end('key package bundle');
  return { keyPackage, privatePackage, lastResort };
}

function keyPackageFrom(bytes: Uint8Array): KeyPackage {
  const message = decodeMessage(bytes);
  if (message.wireformat !== 'mls_key_package') {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'not an MLS key package');
  }
  return message.keyPackage;
}

/**
 * MLS for one client: holds the configuration (providers, cipher suite, trust callback); every group operation takes
 * and returns state values. One engine per device (or per process: it keeps only caches — verified credentials, decoded
 * ratchet trees — never a group's state).
 */
export class MlsEngine {
  readonly cipherSuite: GroupCipherSuite;
  private readonly crypto: CryptoProvider;
  private readonly isTrustedIdentity: MlsEngineOptions['isTrustedIdentity'];
  private readonly mlsProvider: MlsCryptoProvider;
  private readonly now: () => number;
  private readonly impls = new Map<GroupCipherSuite, Promise<CiphersuiteImpl>>();
  private readonly verified = new Map<string, DeviceCredential>();
  private readonly clientConfig: ClientConfig;
  private readonly treeCache = new TreeCache();

  constructor(options: MlsEngineOptions) {
    this.crypto = options.crypto;
    this.isTrustedIdentity = options.isTrustedIdentity;
    this.mlsProvider = options.mlsCryptoProvider ?? defaultMlsCryptoProvider;
    this.cipherSuite = options.cipherSuite ?? DEFAULT_GROUP_CIPHER_SUITE;
    assertCipherSuite(this.cipherSuite);
    this.now = options.now ?? (() => Date.now() / 1000);
    const authService: AuthenticationService = {
      validateCredential: (credential, signaturePublicKey) => this.checkMember(credential, signaturePublicKey),
    };
    this.clientConfig = {
      keyRetentionConfig: defaultKeyRetentionConfig,
      // We check lifetimes when we add a key package (ts-mls's sentByClient path), not when a commit arrives:
      // a member catching up after weeks offline must still process the adds it missed.
      lifetimeConfig: {
        maximumTotalLifetime: BigInt(KEY_PACKAGE_LIFETIME_SECONDS + 3600),
        validateLifetimeOnReceive: false,
      },
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService,
    };
  }

  private impl(suite: GroupCipherSuite = this.cipherSuite): Promise<CiphersuiteImpl> {
    let impl = this.impls.get(suite);
    if (impl === undefined) {
      impl = getCiphersuiteImpl(getCiphersuiteFromName(suite), this.mlsProvider);
      this.impls.set(suite, impl);
    }
    return impl;
  }

  private implFor(state: GroupState): Promise<CiphersuiteImpl> {
    return this.impl(inner(state).groupContext.cipherSuite);
  }

  /**
   * ts-mls's AuthenticationService hook: runs for every leaf ts-mls admits or re-validates. Throws (rather than
   * returning false) so the caller gets our precise code, not a generic validation failure.
   */
  private async checkMember(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
    await this.verifyCredential(basicIdentity(credential), signaturePublicKey);
    return true;
  }

  /**
   * Verifies a member credential: the binding signature (BAD_SIGNATURE if the identity key inside did not sign this
   * MLS signature key, account and device) and the caller's trust in that identity key for that account
   * (UNTRUSTED_IDENTITY). Returns who the member is.
   */
  async verifyCredential(identityBytes: Uint8Array, signaturePublicKey: Uint8Array): Promise<DeviceCredential> {
    const cacheKey = `${toHex(signaturePublicKey)}:${toHex(identityBytes)}`;
    let credential = this.verified.get(cacheKey);
    if (credential === undefined) {
      credential = await verifyDeviceCredential(this.crypto, identityBytes, signaturePublicKey);
      if (this.verified.size >= MAX_VERIFIED_CACHE) this.verified.clear();
      this.verified.set(cacheKey, credential);
    }
    if (!(await this.isTrustedIdentity(credential.accountId, credential.identityKey))) {
      throw new ProtocolError(
        ProtocolErrorCode.UntrustedIdentity,
        'a group member presents an identity key this client does not trust for its account',
      );
    }
    return credential;
  }

  /** Makes this device's MLS identity: a fresh MLS signature key pair bound to the account by `identity`. */
  async createDeviceIdentity(identity: IdentityKeyPair, accountId: string, deviceId: number): Promise<MlsDeviceIdentity> {
    assertDeviceAddress(accountId, deviceId);
    const impl = await this.impl();
    const { publicKey, signKey } = await impl.signature.keygen();
    const credential = await signDeviceCredential(this.crypto, identity, accountId, deviceId, publicKey);
    const { identityKey } = decodeDeviceCredential(credential);
    return {
      cipherSuite: this.cipherSuite,
      accountId,
      deviceId,
      identityKey,
      signaturePublicKey: publicKey,
      signaturePrivateKey: signKey,
      credential,
    };
  }

  /** `count` one-time key packages for upload (the public parts) and the device's store (the bundles). */
  async generateKeyPackages(device: MlsDeviceIdentity, count: number): Promise<KeyPackageBundle[]> {
    if (!Number.isInteger(count) || count < 0 || count > 1000) {
      throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'key package count must be 0..1000');
    }
    const out: KeyPackageBundle[] = [];
    for (let i = 0; i < count; i++) out.push(await this.generateKeyPackage(device, false));
    return out;
  }

  /** One last-resort key package: handed out when the one-time ones are exhausted, so it may be used again. */
  generateLastResortKeyPackage(device: MlsDeviceIdentity): Promise<KeyPackageBundle> {
    return this.generateKeyPackage(device, true);
  }

  private async generateKeyPackage(device: MlsDeviceIdentity, lastResort: boolean): Promise<KeyPackageBundle> {
    const impl = await this.impl(device.cipherSuite);
    const now = BigInt(Math.floor(this.now()));
    const lifetime = { notBefore: now - 3600n, notAfter: now + BigInt(KEY_PACKAGE_LIFETIME_SECONDS) };
    const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
      { credentialType: 'basic', identity: device.credential },
      defaultCapabilities(),
      lifetime,
      [],
      { signKey: device.signaturePrivateKey, publicKey: device.signaturePublicKey },
      impl,
    );
    const publicKeyPackage = mlsMessageBytes({
      version: 'mls10',
      wireformat: 'mls_key_package',
      keyPackage: publicPackage,
    });
    return {
      publicKeyPackage,
      ref: await makeKeyPackageRef(publicPackage, impl.hash),
      lastResort,
      privateKeyPackage: encodeKeyPackageBundle(publicKeyPackage, privatePackage, lastResort),
    };
  }

  /** Reads a stored key package bundle back (e.g. to find the one a Welcome names). */
  decodeKeyPackageBundle(bytes: Uint8Array): { publicKeyPackage: Uint8Array; lastResort: boolean } {
    const { keyPackage, lastResort } = decodeKeyPackageBundle(bytes);
    return {
      publicKeyPackage: mlsMessageBytes({ version: 'mls10', wireformat: 'mls_key_package', keyPackage }),
      lastResort,
    };
  }

  /** A new group with this device as its only member, at epoch 0. `groupId` defaults to 32 random bytes. */
  async createGroup(device: MlsDeviceIdentity, groupId?: Uint8Array): Promise<GroupState> {
    const id = groupId ?? this.crypto.randomBytes(GROUP_ID_LENGTH);
    if (id.length === 0 || id.length > 255) {
      throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'group id must be 1..255 bytes');
    }
    const bundle = await this.generateKeyPackage(device, false);
    const { keyPackage, privatePackage } = decodeKeyPackageBundle(bundle.privateKeyPackage);
    const impl = await this.impl(device.cipherSuite);
    return mapErrors(async () =>
      outer(await mlsCreateGroup(id, keyPackage, privatePackage, [], impl, this.clientConfig)),
    );
  }

  /**
   * Adds devices from their key packages in one commit and one Welcome (carrying the ratchet tree). Every key
   * package's credential is checked before anything is sent (BAD_SIGNATURE / UNTRUSTED_IDENTITY).
   */
  async addMembers(state: GroupState, keyPackages: readonly Uint8Array[]): Promise<CommitResult> {
    if (keyPackages.length === 0) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'no key packages');
    const proposals: Proposal[] = keyPackages.map((bytes) => ({
      proposalType: 'add',
      add: { keyPackage: keyPackageFrom(bytes) },
    }));
    return this.commit(state, proposals);
  }

  /** Removes every leaf of the given devices in one commit. INVALID_ARGUMENT if one is not a member. */
  async removeMembers(state: GroupState, devices: readonly DeviceAddress[]): Promise<CommitResult> {
    const members = membersOfGroup(state);
    const proposals: Proposal[] = [];
    for (const device of devices) {
      const leaves = members.filter((m) => sameDevice(m, device));
      if (leaves.length === 0) {
        throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'device to remove is not a group member');
      }
      for (const m of leaves) proposals.push({ proposalType: 'remove', remove: { removed: m.leafIndex } });
    }
    if (proposals.length === 0) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'no devices to remove');
    return this.commit(state, proposals);
  }

  /**
   * A commit with a fresh update path (new leaf and path keys: post-compromise security, RFC 9420 §12.4), which
   * also commits every pending proposal received so far (e.g. a member's leave).
   */
  async update(state: GroupState): Promise<CommitResult> {
    return this.commit(state, []);
  }

  /**
   * Commits go as PublicMessages (RFC 9420 §6.2), so that the Delivery Service can verify them against the group's
   * public state and derive the membership it delivers to (./delivery-service.ts; RFC 9750 §5). They are signed by
   * our leaf and carry the membership tag; what they show the server (who is added and removed, the new public keys)
   * it could infer from fan-out anyway, and the UpdatePath's secrets stay HPKE-encrypted to members (§7.6). Every
   * proposal goes by value — the pending ones received so far (e.g. a member's leave) too, since the DS never saw
   * those in clear and could not resolve a reference; members still tell a leave from a removal by the Remove
   * proposal they hold from the leaver (`leavers`).
   */
  private async commit(state: GroupState, extraProposals: Proposal[]): Promise<CommitResult> {
    const impl = await this.implFor(state);
    const s = inner(state);
    const pending = Object.values(s.unappliedProposals).map((p) => p.proposal);
    return mapErrors(async () => {
      const result = await createCommit(
        { state: { ...s, unappliedProposals: {} }, cipherSuite: impl },
        { extraProposals: [...pending, ...extraProposals], ratchetTreeExtension: true, wireAsPublicMessage: true },
      );
      const gone = membersOf(s.ratchetTree).filter((m) => leafAt(result.newState.ratchetTree, m.leafIndex) === undefined);
      return {
        state: derivedState(s, result.newState),
        commit: mlsMessageBytes(result.commit),
        left: leavers(s.ratchetTree, Object.values(s.unappliedProposals), gone),
        ...(result.welcome !== undefined
          ? { welcome: mlsMessageBytes({ version: 'mls10', wireformat: 'mls_welcome', welcome: result.welcome }) }
          : {}),
      };
    });
  }

  /**
   * Leaving: MLS has no self-removing commit (RFC 9420 §12.4: a member cannot commit its own removal), so we send a
   * Remove proposal for our own leaf; the next commit by any member (`update`) applies it. Keep processing messages
   * until that commit arrives and reports `removedSelf`.
   */
  async leave(state: GroupState): Promise<{ state: GroupState; proposal: Uint8Array }> {
    const impl = await this.implFor(state);
    const s = inner(state);
    return mapErrors(async () => {
      const { newState, message } = await createProposal(
        s,
        false,
        { proposalType: 'remove', remove: { removed: s.privatePath.leafIndex } },
        impl,
      );
      return { state: derivedState(s, newState), proposal: mlsMessageBytes(message) };
    });
  }

  /**
   * A Remove proposal (RFC 9420 §12.1.3) for another device's leaves, e.g. the other devices of our own account when
   * the account leaves: the next commit by any member applies it. INVALID_ARGUMENT if the device is not a member.
   */
  async proposeRemoval(state: GroupState, device: DeviceAddress): Promise<{ state: GroupState; proposals: Uint8Array[] }> {
    const impl = await this.implFor(state);
    let s = inner(state);
    const leaves = membersOfGroup(state).filter((m) => sameDevice(m, device));
    if (leaves.length === 0) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'device to remove is not a group member');
    const proposals: Uint8Array[] = [];
    for (const leaf of leaves) {
      const { newState, message } = await mapErrors(() =>
        createProposal(s, false, { proposalType: 'remove', remove: { removed: leaf.leafIndex } }, impl),
      );
      s = newState;
      proposals.push(mlsMessageBytes(message));
    }
    return { state: derivedState(inner(state), s), proposals };
  }

  /**
   * Joins from a Welcome addressed to one of our key packages (`keyPackageBundle` is its private bundle). The whole
   * ratchet tree (carried in the Welcome's ratchet_tree extension, RFC 9420 §12.4.3.3) is validated, including every
   * member's credential.
   */
  async joinFromWelcome(keyPackageBundle: Uint8Array, welcome: Uint8Array): Promise<GroupState> {
    return (await this.joinFromWelcomeWithInviter(keyPackageBundle, welcome)).state;
  }

  /**
   * joinFromWelcome, and who added us: the member that signed the Welcome's GroupInfo (RFC 9420 §12.4.3.1: the
   * committer), whose signature joinGroup verified against that leaf. The server's word for the Welcome's sender is
   * not used.
   */
  async joinFromWelcomeWithInviter(keyPackageBundle: Uint8Array, welcome: Uint8Array): Promise<{ state: GroupState; inviter: GroupMember }> {
    const message = decodeMessage(welcome);
    if (message.wireformat !== 'mls_welcome') throw new ProtocolError(ProtocolErrorCode.Decode, 'not a Welcome');
    const { keyPackage, privatePackage } = decodeKeyPackageBundle(keyPackageBundle);
    const impl = await this.impl(keyPackage.cipherSuite);
    return mapErrors(async () => {
      const state = await joinGroup(message.welcome, keyPackage, privatePackage, emptyPskIndex, impl, undefined, undefined, this.clientConfig);
      // The same decryption joinGroup did (no PSKs: emptyPskIndex accepted none), to read GroupInfo.signer.
      const ref = await makeKeyPackageRef(keyPackage, impl.hash);
      const secrets = await decryptGroupSecrets(await impl.hpke.importPrivateKey(privatePackage.initPrivateKey), ref, message.welcome, impl.hpke);
      if (secrets === undefined || secrets.psks.length > 0) throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'Welcome group secrets unreadable');
      const info = await decryptGroupInfo(message.welcome, secrets.joinerSecret, new Uint8Array(impl.kdf.size), impl);
      secrets.joinerSecret.fill(0);
      const leaf = info === undefined ? undefined : leafAt(state.ratchetTree, info.signer);
      if (info === undefined || leaf === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'Welcome GroupInfo signer unknown');
      return { state: outer(state), inviter: memberOf(leaf, info.signer) };
    });
  }

  /**
   * The GroupInfo (RFC 9420 §12.4.3) with external_pub and the ratchet tree, signed by us: what the Delivery Service
   * keeps so that a member's new device can join by external commit.
   */
  async exportGroupInfo(state: GroupState): Promise<Uint8Array> {
    const impl = await this.implFor(state);
    return mapErrors(async () =>
      mlsMessageBytes({
        version: 'mls10',
        wireformat: 'mls_group_info',
        groupInfo: await createGroupInfoWithExternalPubAndRatchetTree(inner(state), [], impl),
      }),
    );
  }

  /**
   * External join (RFC 9420 §12.4.3.2) of a new device of an account that is already in the group. The joiner
   * checks every member's credential; members accept the commit only from a device of a member account.
   */
  async joinExternal(device: MlsDeviceIdentity, groupInfo: Uint8Array): Promise<{ state: GroupState; commit: Uint8Array }> {
    const message = decodeMessage(groupInfo);
    if (message.wireformat !== 'mls_group_info') throw new ProtocolError(ProtocolErrorCode.Decode, 'not a GroupInfo');
    const impl = await this.impl(message.groupInfo.groupContext.cipherSuite);
    const bundle = await this.generateKeyPackage(device, false);
    const { keyPackage, privatePackage } = decodeKeyPackageBundle(bundle.privateKeyPackage);
    return mapErrors(async () => {
      const { publicMessage, newState } = await joinGroupExternal(
        message.groupInfo,
        keyPackage,
        privatePackage,
        false,
        impl,
        undefined,
        this.clientConfig,
      );
      return {
        state: outer(newState),
        commit: mlsMessageBytes({ version: 'mls10', wireformat: 'mls_public_message', publicMessage }),
      };
    });
  }

  /**
   * Encrypts an application message for the current epoch (a PrivateMessage, signed by our leaf). The plaintext is
   * padded first with the same Padmé buckets as 1:1 messages (../wire/padding.ts): ts-mls's own padding only fills
   * up to 256 bytes, so above that a group message's length would tell its plaintext's to the byte.
   */
  async encrypt(state: GroupState, plaintext: Uint8Array): Promise<{ state: GroupState; message: Uint8Array }> {
    const impl = await this.implFor(state);
    const s = inner(state);
    const padded = pad(plaintext);
    return mapErrors(async () => {
      const { newState, privateMessage } = await createApplicationMessage(s, padded, impl);
      return {
        state: derivedState(s, newState),
        message: mlsMessageBytes({ version: 'mls10', wireformat: 'mls_private_message', privateMessage }),
      };
    });
  }

  /**
   * Processes one incoming group message. Commits and proposals must be for the current epoch (WRONG_EPOCH
   * otherwise: an older one lost the race or was already applied, a newer one means we missed a commit and must
   * catch up in order); application messages may be up to RETAINED_EPOCHS old. The input state is never changed,
   * so a message that fails leaves it usable.
   */
  async processMessage(state: GroupState, bytes: Uint8Array): Promise<ProcessedMessage> {
    const message = decodeMessage(bytes);
    const s = inner(state);
    const impl = await this.implFor(state);
    let epoch: bigint;
    let contentType: string;
    let groupId: Uint8Array;
    if (message.wireformat === 'mls_private_message') {
      ({ epoch, contentType, groupId } = message.privateMessage);
    } else if (message.wireformat === 'mls_public_message') {
      ({ epoch, contentType, groupId } = message.publicMessage.content);
    } else {
      throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'not a group message (Welcome/GroupInfo/KeyPackage)');
    }
    if (!constantTimeEqual(groupId, s.groupContext.groupId)) {
      throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'message is for another group');
    }
    const current = s.groupContext.epoch;
    if (contentType === 'application') {
      if (epoch > current) {
        throw new ProtocolError(ProtocolErrorCode.WrongEpoch, `application message for epoch ${epoch}, group at ${current}`);
      }
      if (message.wireformat !== 'mls_private_message') {
        throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'application messages must be encrypted');
      }
      return mapErrors(() => this.processApplication(s, message.privateMessage, impl));
    }
    if (epoch !== current) {
      throw new ProtocolError(ProtocolErrorCode.WrongEpoch, `${contentType} for epoch ${epoch}, group at ${current}`);
    }
    return mapErrors(async () => {
      const pskIndex = makePskIndex(s, {});
      // ts-mls reports a commit's authenticated sender and its proposals (with theirs) to this callback.
      let seen: CommitSeen | undefined;
      const observe: IncomingMessageCallback = (incoming) => {
        if (incoming.kind === 'commit') seen = { senderLeafIndex: incoming.senderLeafIndex, proposals: incoming.proposals };
        return 'accept';
      };
      const result =
        message.wireformat === 'mls_private_message'
          ? await processPrivateMessage(s, message.privateMessage, pskIndex, impl, observe)
          : await processPublicMessage(s, message.publicMessage, pskIndex, impl, observe);
      if (contentType === 'commit') {
        if (seen === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'commit was not reported by ts-mls');
        return this.describeCommit(s, result.newState, message, seen);
      }
      return this.describeProposal(s, result.newState);
    });
  }

  private async processApplication(
    s: ClientState,
    pm: Extract<MLSMessage, { wireformat: 'mls_private_message' }>['privateMessage'],
    impl: CiphersuiteImpl,
  ): Promise<ProcessedMessage> {
    const historical = pm.epoch < s.groupContext.epoch ? s.historicalReceiverData.get(pm.epoch) : undefined;
    if (pm.epoch < s.groupContext.epoch && historical === undefined) {
      throw new ProtocolError(ProtocolErrorCode.WrongEpoch, `application message for epoch ${pm.epoch}: keys gone`);
    }
    const receiver = historical ?? {
      senderDataSecret: s.keySchedule.senderDataSecret,
      secretTree: s.secretTree,
      ratchetTree: s.ratchetTree,
      groupContext: s.groupContext,
    };
    const result = await unprotectPrivateMessage(
      receiver.senderDataSecret,
      pm,
      receiver.secretTree,
      receiver.ratchetTree,
      receiver.groupContext,
      s.clientConfig.keyRetentionConfig,
      impl,
    );
    const content = result.content.content;
    if (content.contentType !== 'application' || content.sender.senderType !== 'member') {
      throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'not an application message from a member');
    }
    const leaf = leafAt(receiver.ratchetTree, content.sender.leafIndex);
    if (leaf === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'sender leaf is blank');
    let newState: ClientState;
    if (historical !== undefined) {
      const data = new Map(s.historicalReceiverData);
      data.set(pm.epoch, { ...historical, secretTree: result.tree });
      newState = { ...s, historicalReceiverData: data };
    } else {
      newState = { ...s, secretTree: result.tree };
    }
    return {
      kind: 'application',
      state: derivedState(s, newState),
      plaintext: unpad(content.applicationData),
      sender: memberOf(leaf, content.sender.leafIndex),
      epoch: pm.epoch,
    };
  }

  /**
   * Diffs the leaves before and after a commit. A leaf that stays but changes owner (an update carrying another
   * device's credential) is refused, as is an external commit from a device whose account is not in the group.
   */
  private describeCommit(before: ClientState, after: ClientState, message: MLSMessage, seen: CommitSeen): ProcessedMessage {
    const added: GroupMember[] = [];
    const removed: GroupMember[] = [];
    const oldTree = before.ratchetTree;
    const newTree = after.ratchetTree;
    const width = Math.max(oldTree.length, newTree.length);
    for (let i = 0; i < width; i += 2) {
      const a = oldTree[i];
      const b = newTree[i];
      if (a === b) continue;
      const oldLeaf = a?.nodeType === 'leaf' ? a.leaf : undefined;
      const newLeaf = b?.nodeType === 'leaf' ? b.leaf : undefined;
      if (oldLeaf === newLeaf) continue;
      const oldMember = oldLeaf === undefined ? undefined : memberOf(oldLeaf, i / 2);
      const newMember = newLeaf === undefined ? undefined : memberOf(newLeaf, i / 2);
      if (oldMember !== undefined && newMember !== undefined) {
        if (!sameDevice(oldMember, newMember)) {
          throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'a commit changed the device of an existing leaf');
        }
        continue;
      }
      if (oldMember !== undefined) removed.push(oldMember);
      if (newMember !== undefined) added.push(newMember);
    }
    if (
      message.wireformat === 'mls_public_message' &&
      message.publicMessage.content.sender.senderType === 'new_member_commit'
    ) {
      const accounts = new Set(membersOf(oldTree).map((m) => m.accountId));
      if (added.some((m) => !accounts.has(m.accountId))) {
        throw new ProtocolError(
          ProtocolErrorCode.UntrustedIdentity,
          'external join by a device whose account is not in the group',
        );
      }
    }
    let committer: GroupMember | undefined;
    if (seen.senderLeafIndex !== undefined) {
      const leaf = leafAt(oldTree, seen.senderLeafIndex);
      committer = leaf === undefined ? undefined : memberOf(leaf, seen.senderLeafIndex);
    } else if (added.length === 1) {
      committer = added[0];
    }
    if (committer === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidMessage, 'commit without a committer leaf');
    // By value, a leaver's Remove arrives as the committer's: the one we hold from the leaver itself (its signed
    // proposal, stored when it arrived) says it left.
    const left = leavers(oldTree, [...seen.proposals, ...Object.values(before.unappliedProposals)], removed);
    return {
      kind: 'commit',
      state: derivedState(before, after),
      epoch: after.groupContext.epoch,
      added,
      removed,
      left,
      committer,
      removedSelf: after.groupActiveState.kind === 'removedFromGroup',
    };
  }

  private describeProposal(before: ClientState, after: ClientState): ProcessedMessage {
    // The proposal just stored is the one unapplied proposal `before` did not have.
    let description: ProposalDescription = { type: 'other', proposalType: 'unknown' };
    let sender: GroupMember | undefined;
    for (const [ref, entry] of Object.entries(after.unappliedProposals)) {
      if (ref in before.unappliedProposals) continue;
      const p = entry.proposal;
      const senderIndex = entry.senderLeafIndex;
      const senderLeaf = senderIndex === undefined ? undefined : leafAt(before.ratchetTree, senderIndex);
      sender = senderLeaf === undefined || senderIndex === undefined ? undefined : memberOf(senderLeaf, senderIndex);
      if (p.proposalType === 'add') {
        const credential = basicIdentity(p.add.keyPackage.leafNode.credential);
        const { signature: _s, ...member } = decodeDeviceCredential(credential);
        description = { type: 'add', member };
      } else if (p.proposalType === 'remove') {
        const leaf = leafAt(before.ratchetTree, p.remove.removed);
        description = { type: 'remove', member: leaf === undefined ? undefined : memberOf(leaf, p.remove.removed) };
      } else if (p.proposalType === 'update') {
        description = { type: 'update', member: sender };
      } else {
        description = { type: 'other', proposalType: String(p.proposalType) };
      }
    }
    return { kind: 'proposal', state: derivedState(before, after), proposal: description, sender };
  }

  /**
   * Encodes a group state for storage (it holds private keys: store it like any secret), as version 3 with its
   * `needsRekey` mark. The ratchet tree is written once, not once per retained epoch, and a tree encoded before is not
   * encoded again (./group-state-codec.ts).
   */
  encodeGroupState(state: GroupState): Uint8Array {
    return encodeGroupStateV3(inner(state), needsRekey(state));
  }

  /**
   * Inverse of encodeGroupState (any version), bound to this engine's trust callback and providers. A tree this
   * engine decoded before is not decoded again. A version 1 or 2 state past epoch 0 comes back with `needsRekey`.
   */
  decodeGroupState(bytes: Uint8Array): GroupState {
    const { state, zeroKeyedEpoch } = decodeGroupStateBytes(bytes, this.treeCache);
    const decoded: ClientState = { ...state, clientConfig: this.clientConfig };
    if (zeroKeyedEpoch) zeroKeyedStates.add(decoded);
    return outer(decoded);
  }
}
