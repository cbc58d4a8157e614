/**
 * What a member does to a group (RFC 9420 §12, group evolution): create it, add and remove devices, update its own
 * leaf, leave, join (from a Welcome or by external commit), export the GroupInfo, and encrypt application messages.
 * Each takes a state and returns a new one, leaving its input usable: a commit the Delivery Service refused is
 * dropped by keeping the old state.
 */
import {
  createApplicationMessage,
  createCommit,
  createGroup as mlsCreateGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  createProposal,
  emptyPskIndex,
  joinGroup,
  joinGroupExternal,
  mlsExporter,
} from 'ts-mls';
import type { Proposal } from 'ts-mls';
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';
import { pad } from '../../wire/padding.js';
import { decodeMessage, leafAt, mapErrors, memberOf, membersOf } from '../mls-common.js';
import type { GroupMember } from '../mls-common.js';
import { decryptGroupInfo, decryptGroupSecrets, makeKeyPackageRef } from '../ts-mls-internals.js';
import { decodeKeyPackageBundle, keyPackageFrom, mlsMessageBytes } from './codecs.js';
import type { EngineContext } from './context.js';
import { derivedState, inner, outer } from './group-state.js';
import { membersOfGroup } from './inspect.js';
import { generateKeyPackage } from './key-packages.js';
import { leavers, sameDevice } from './membership.js';
import { GROUP_ID_LENGTH } from './types.js';
import type { CommitResult, DeviceAddress, GroupState, MlsDeviceIdentity } from './types.js';

/** A new group with this device as its only member, at epoch 0. `groupId` defaults to 32 random bytes. */
export async function createGroup(context: EngineContext, device: MlsDeviceIdentity, groupId?: Uint8Array): Promise<GroupState> {
  const id = groupId ?? context.crypto.randomBytes(GROUP_ID_LENGTH);
  if (id.length === 0 || id.length > 255) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'group id must be 1..255 bytes');
  }
  const bundle = await generateKeyPackage(context, device, false);
  const { keyPackage, privatePackage } = decodeKeyPackageBundle(bundle.privateKeyPackage);
  const impl = await context.impl(device.cipherSuite);
  return mapErrors(async () =>
    outer(await mlsCreateGroup(id, keyPackage, privatePackage, [], impl, context.clientConfig)),
  );
}

/**
 * Adds devices from their key packages in one commit and one Welcome (carrying the ratchet tree). Every key
 * package's credential is checked before anything is sent (BAD_SIGNATURE / UNTRUSTED_IDENTITY).
 */
export async function addMembers(context: EngineContext, state: GroupState, keyPackages: readonly Uint8Array[]): Promise<CommitResult> {
  if (keyPackages.length === 0) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'no key packages');
  const proposals: Proposal[] = keyPackages.map((bytes) => ({
    proposalType: 'add',
    add: { keyPackage: keyPackageFrom(bytes) },
  }));
  return commit(context, state, proposals);
}

/** Removes every leaf of the given devices in one commit. INVALID_ARGUMENT if one is not a member. */
export async function removeMembers(context: EngineContext, state: GroupState, devices: readonly DeviceAddress[]): Promise<CommitResult> {
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
  return commit(context, state, proposals);
}

/**
 * A commit with a fresh update path (new leaf and path keys: post-compromise security, RFC 9420 §12.4), which
 * also commits every pending proposal received so far (e.g. a member's leave).
 */
export async function update(context: EngineContext, state: GroupState): Promise<CommitResult> {
  return commit(context, state, []);
}

/**
 * Commits go as PublicMessages (RFC 9420 §6.2), so that the Delivery Service can verify them against the group's
 * public state and derive the membership it delivers to (../delivery-service.ts; RFC 9750 §5). They are signed by
 * our leaf and carry the membership tag; what they show the server (who is added and removed, the new public keys)
 * it could infer from fan-out anyway, and the UpdatePath's secrets stay HPKE-encrypted to members (§7.6). Every
 * proposal goes by value — the pending ones received so far (e.g. a member's leave) too, since the DS never saw
 * those in clear and could not resolve a reference; members still tell a leave from a removal by the Remove
 * proposal they hold from the leaver (`leavers`).
 */
async function commit(context: EngineContext, state: GroupState, extraProposals: Proposal[]): Promise<CommitResult> {
  const impl = await context.implFor(state);
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
export async function leave(context: EngineContext, state: GroupState): Promise<{ state: GroupState; proposal: Uint8Array }> {
  const impl = await context.implFor(state);
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
export async function proposeRemoval(
  context: EngineContext,
  state: GroupState,
  device: DeviceAddress,
): Promise<{ state: GroupState; proposals: Uint8Array[] }> {
  const impl = await context.implFor(state);
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
 * Joins from a Welcome addressed to one of our key packages (`keyPackageBundle` is its private bundle), and says who
 * added us: the member that signed the Welcome's GroupInfo (RFC 9420 §12.4.3.1: the committer), whose signature
 * joinGroup verified against that leaf. The server's word for the Welcome's sender is not used. The whole ratchet
 * tree (carried in the Welcome's ratchet_tree extension, §12.4.3.3) is validated, including every member's credential.
 */
export async function joinFromWelcome(
  context: EngineContext,
  keyPackageBundle: Uint8Array,
  welcome: Uint8Array,
): Promise<{ state: GroupState; inviter: GroupMember }> {
  const message = decodeMessage(welcome);
  if (message.wireformat !== 'mls_welcome') throw new ProtocolError(ProtocolErrorCode.Decode, 'not a Welcome');
  const { keyPackage, privatePackage } = decodeKeyPackageBundle(keyPackageBundle);
  const impl = await context.impl(keyPackage.cipherSuite);
  return mapErrors(async () => {
    const state = await joinGroup(message.welcome, keyPackage, privatePackage, emptyPskIndex, impl, undefined, undefined, context.clientConfig);
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
export async function exportGroupInfo(context: EngineContext, state: GroupState): Promise<Uint8Array> {
  const impl = await context.implFor(state);
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
export async function joinExternal(
  context: EngineContext,
  device: MlsDeviceIdentity,
  groupInfo: Uint8Array,
): Promise<{ state: GroupState; commit: Uint8Array }> {
  const message = decodeMessage(groupInfo);
  if (message.wireformat !== 'mls_group_info') throw new ProtocolError(ProtocolErrorCode.Decode, 'not a GroupInfo');
  const impl = await context.impl(message.groupInfo.groupContext.cipherSuite);
  const bundle = await generateKeyPackage(context, device, false);
  const { keyPackage, privatePackage } = decodeKeyPackageBundle(bundle.privateKeyPackage);
  return mapErrors(async () => {
    const { publicMessage, newState } = await joinGroupExternal(
      message.groupInfo,
      keyPackage,
      privatePackage,
      false,
      impl,
      undefined,
      context.clientConfig,
    );
    return {
      state: outer(newState),
      commit: mlsMessageBytes({ version: 'mls10', wireformat: 'mls_public_message', publicMessage }),
    };
  });
}

/**
 * Encrypts an application message for the current epoch (a PrivateMessage, signed by our leaf). The plaintext is
 * padded first with the same Padmé buckets as 1:1 messages (../../wire/padding.ts): ts-mls's own padding only fills
 * up to 256 bytes, so above that a group message's length would tell its plaintext's to the byte.
 */
export async function encrypt(context: EngineContext, state: GroupState, plaintext: Uint8Array): Promise<{ state: GroupState; message: Uint8Array }> {
  const impl = await context.implFor(state);
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

/** The exporter label of group send keys (docs/protocol.md "Group send keys"). */
export const GROUP_SEND_KEY_LABEL = 'Samizdat group send key v1';
export const GROUP_SEND_KEY_LENGTH = 32;

/**
 * The group send key of the state's epoch: MLS-Exporter("Samizdat group send key v1", group id, 32) (RFC 9420 §8.5),
 * the same on every member in the epoch and underivable without its exporter_secret — so not by a member removed
 * before it. Members submit application messages with it instead of credentials; the epoch's committer registers
 * its SHA-256 with the server.
 */
export async function groupSendKey(context: EngineContext, state: GroupState): Promise<Uint8Array> {
  const impl = await context.implFor(state);
  const s = inner(state);
  return mapErrors(() => mlsExporter(s.keySchedule.exporterSecret, GROUP_SEND_KEY_LABEL, s.groupContext.groupId, GROUP_SEND_KEY_LENGTH, impl));
}
