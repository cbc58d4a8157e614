/**
 * Samizdat's interface to MLS (RFC 9420), over ts-mls 1.6.4. Nothing outside src/groups imports ts-mls: the client
 * SDK sees devices, key packages, group states and messages as our types and bytes.
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
 *   a commit the Delivery Service refused is dropped by keeping the old state (see `CommitResult`).
 * - Handshake messages are accepted only for the current epoch: anything else throws ProtocolError WRONG_EPOCH
 *   (the DS orders commits per epoch; a client that lost the race processes the winner's commit, then retries).
 *
 * The work is done in ./engine/: types.ts (what goes in and out), context.ts (configuration and caches),
 * key-packages.ts, operations.ts (what a member does), receive.ts (processing messages), inspect.ts (reading a state),
 * codecs.ts (bytes), group-state.ts and membership.ts (shared by the others). ts-mls internals: ./ts-mls-internals.ts.
 */
import type { IdentityKeyPair } from '../keys/identity.js';
import type { DeviceCredential } from './device-credential.js';
import type { GroupMember } from './mls-common.js';
import { decodeGroupState, encodeGroupState } from './engine/codecs.js';
import { EngineContext } from './engine/context.js';
import { createDeviceIdentity, generateKeyPackage, generateKeyPackages, readKeyPackageBundle } from './engine/key-packages.js';
import * as operations from './engine/operations.js';
import { processMessage } from './engine/receive.js';
import type {
  CommitResult,
  DeviceAddress,
  GroupCipherSuite,
  GroupState,
  KeyPackageBundle,
  MlsDeviceIdentity,
  MlsEngineOptions,
  ProcessedMessage,
} from './engine/types.js';

/**
 * MLS for one client: holds the configuration (providers, cipher suite, trust callback); every group operation takes
 * and returns state values. One engine per device (or per process: it keeps only caches — verified credentials, decoded
 * ratchet trees — never a group's state).
 */
export class MlsEngine {
  readonly cipherSuite: GroupCipherSuite;
  private readonly context: EngineContext;

  constructor(options: MlsEngineOptions) {
    this.context = new EngineContext(options);
    this.cipherSuite = this.context.cipherSuite;
  }

  /**
   * Verifies a member credential: the binding signature (BAD_SIGNATURE if the identity key inside did not sign this
   * MLS signature key, account and device) and the caller's trust in that identity key for that account
   * (UNTRUSTED_IDENTITY). Returns who the member is.
   */
  verifyCredential(identityBytes: Uint8Array, signaturePublicKey: Uint8Array): Promise<DeviceCredential> {
    return this.context.verifyCredential(identityBytes, signaturePublicKey);
  }

  /** Makes this device's MLS identity: a fresh MLS signature key pair bound to the account by `identity`. */
  createDeviceIdentity(identity: IdentityKeyPair, accountId: string, deviceId: number): Promise<MlsDeviceIdentity> {
    return createDeviceIdentity(this.context, identity, accountId, deviceId);
  }

  /** `count` one-time key packages for upload (the public parts) and the device's store (the bundles). */
  generateKeyPackages(device: MlsDeviceIdentity, count: number): Promise<KeyPackageBundle[]> {
    return generateKeyPackages(this.context, device, count);
  }

  /** One last-resort key package: handed out when the one-time ones are exhausted, so it may be used again. */
  generateLastResortKeyPackage(device: MlsDeviceIdentity): Promise<KeyPackageBundle> {
    return generateKeyPackage(this.context, device, true);
  }

  /** Reads a stored key package bundle back (e.g. to find the one a Welcome names). */
  decodeKeyPackageBundle(bytes: Uint8Array): { publicKeyPackage: Uint8Array; lastResort: boolean } {
    return readKeyPackageBundle(bytes);
  }

  /** A new group with this device as its only member, at epoch 0. `groupId` defaults to 32 random bytes. */
  createGroup(device: MlsDeviceIdentity, groupId?: Uint8Array): Promise<GroupState> {
    return operations.createGroup(this.context, device, groupId);
  }

  /**
   * Adds devices from their key packages in one commit and one Welcome (carrying the ratchet tree). Every key
   * package's credential is checked before anything is sent (BAD_SIGNATURE / UNTRUSTED_IDENTITY).
   */
  addMembers(state: GroupState, keyPackages: readonly Uint8Array[]): Promise<CommitResult> {
    return operations.addMembers(this.context, state, keyPackages);
  }

  /** Removes every leaf of the given devices in one commit. INVALID_ARGUMENT if one is not a member. */
  removeMembers(state: GroupState, devices: readonly DeviceAddress[]): Promise<CommitResult> {
    return operations.removeMembers(this.context, state, devices);
  }

  /**
   * A commit with a fresh update path (new leaf and path keys: post-compromise security, RFC 9420 §12.4), which
   * also commits every pending proposal received so far (e.g. a member's leave).
   */
  update(state: GroupState): Promise<CommitResult> {
    return operations.update(this.context, state);
  }

  /**
   * Leaving: a Remove proposal for our own leaf (RFC 9420 §12.4: a member cannot commit its own removal); the next
   * commit by any member applies it. Keep processing messages until that commit arrives and reports `removedSelf`.
   */
  leave(state: GroupState): Promise<{ state: GroupState; proposal: Uint8Array }> {
    return operations.leave(this.context, state);
  }

  /**
   * A Remove proposal (RFC 9420 §12.1.3) for another device's leaves, e.g. the other devices of our own account when
   * the account leaves: the next commit by any member applies it. INVALID_ARGUMENT if the device is not a member.
   */
  proposeRemoval(state: GroupState, device: DeviceAddress): Promise<{ state: GroupState; proposals: Uint8Array[] }> {
    return operations.proposeRemoval(this.context, state, device);
  }

  /**
   * Joins from a Welcome addressed to one of our key packages (`keyPackageBundle` is its private bundle). The whole
   * ratchet tree (carried in the Welcome's ratchet_tree extension, RFC 9420 §12.4.3.3) is validated, including every
   * member's credential.
   */
  async joinFromWelcome(keyPackageBundle: Uint8Array, welcome: Uint8Array): Promise<GroupState> {
    return (await operations.joinFromWelcome(this.context, keyPackageBundle, welcome)).state;
  }

  /**
   * joinFromWelcome, and who added us: the member that signed the Welcome's GroupInfo (RFC 9420 §12.4.3.1: the
   * committer), whose signature joinGroup verified against that leaf. The server's word for the Welcome's sender is
   * not used.
   */
  joinFromWelcomeWithInviter(keyPackageBundle: Uint8Array, welcome: Uint8Array): Promise<{ state: GroupState; inviter: GroupMember }> {
    return operations.joinFromWelcome(this.context, keyPackageBundle, welcome);
  }

  /**
   * The GroupInfo (RFC 9420 §12.4.3) with external_pub and the ratchet tree, signed by us: what the Delivery Service
   * keeps so that a member's new device can join by external commit.
   */
  exportGroupInfo(state: GroupState): Promise<Uint8Array> {
    return operations.exportGroupInfo(this.context, state);
  }

  /**
   * External join (RFC 9420 §12.4.3.2) of a new device of an account that is already in the group. The joiner
   * checks every member's credential; members accept the commit only from a device of a member account.
   */
  joinExternal(device: MlsDeviceIdentity, groupInfo: Uint8Array): Promise<{ state: GroupState; commit: Uint8Array }> {
    return operations.joinExternal(this.context, device, groupInfo);
  }

  /** The group send key of the state's epoch (RFC 9420 §8.5 exporter; ./engine/operations.ts groupSendKey). */
  groupSendKey(state: GroupState): Promise<Uint8Array> {
    return operations.groupSendKey(this.context, state);
  }

  /** Encrypts an application message for the current epoch (a PrivateMessage, signed by our leaf, padded). */
  encrypt(state: GroupState, plaintext: Uint8Array): Promise<{ state: GroupState; message: Uint8Array }> {
    return operations.encrypt(this.context, state, plaintext);
  }

  /**
   * Processes one incoming group message. Commits and proposals must be for the current epoch (WRONG_EPOCH
   * otherwise); application messages may be up to RETAINED_EPOCHS old. The input state is never changed, so a
   * message that fails leaves it usable.
   */
  processMessage(state: GroupState, bytes: Uint8Array): Promise<ProcessedMessage> {
    return processMessage(this.context, state, bytes);
  }

  /**
   * Encodes a group state for storage (it holds private keys: store it like any secret), as version 3 with its
   * `needsRekey` mark. The ratchet tree is written once, not once per retained epoch, and a tree encoded before is not
   * encoded again (./group-state-codec.ts).
   */
  encodeGroupState(state: GroupState): Uint8Array {
    return encodeGroupState(state);
  }

  /**
   * Inverse of encodeGroupState (any version), bound to this engine's trust callback and providers. A tree this
   * engine decoded before is not decoded again. A version 1 or 2 state past epoch 0 comes back with `needsRekey`.
   */
  decodeGroupState(bytes: Uint8Array): GroupState {
    return decodeGroupState(bytes, this.context.treeCache, this.context.clientConfig);
  }
}
