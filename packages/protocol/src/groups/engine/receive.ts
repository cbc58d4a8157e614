/**
 * Processing one incoming group message (RFC 9420 §6): an application message of the current or a retained epoch,
 * a proposal, or a commit — which is diffed against the tree it replaces to say who was added, removed or left and
 * who made it. Handshake messages are accepted only for the current epoch (WRONG_EPOCH otherwise: the DS orders
 * commits per epoch; a client that lost the race processes the winner's commit, then retries). The input state is
 * never changed, so a message that fails leaves it usable.
 */
import { makePskIndex, processPrivateMessage, processPublicMessage } from 'ts-mls';
import type { CiphersuiteImpl, ClientState, IncomingMessageCallback, MLSMessage, ProposalWithSender } from 'ts-mls';
import { constantTimeEqual } from '../../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';
import { unpad } from '../../wire/padding.js';
import { decodeDeviceCredential } from '../device-credential.js';
import { basicIdentity, decodeMessage, leafAt, mapErrors, memberOf, membersOf } from '../mls-common.js';
import type { GroupMember } from '../mls-common.js';
import { unprotectPrivateMessage } from '../ts-mls-internals.js';
import type { EngineContext } from './context.js';
import { derivedState, inner } from './group-state.js';
import { leavers, sameDevice } from './membership.js';
import type { GroupState, ProcessedMessage, ProposalDescription } from './types.js';

/** What ts-mls reports of a commit while processing it: its authenticated sender and every proposal it applies. */
interface CommitSeen {
  readonly senderLeafIndex: number | undefined;
  readonly proposals: readonly ProposalWithSender[];
}

type PrivateMessage = Extract<MLSMessage, { wireformat: 'mls_private_message' }>['privateMessage'];

/**
 * Processes one incoming group message. Commits and proposals must be for the current epoch (WRONG_EPOCH
 * otherwise: an older one lost the race or was already applied, a newer one means we missed a commit and must
 * catch up in order); application messages may be up to RETAINED_EPOCHS old.
 */
export async function processMessage(context: EngineContext, state: GroupState, bytes: Uint8Array): Promise<ProcessedMessage> {
  const message = decodeMessage(bytes);
  const s = inner(state);
  const impl = await context.implFor(state);
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
    return mapErrors(() => processApplication(s, message.privateMessage, impl));
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
      return describeCommit(s, result.newState, message, seen);
    }
    return describeProposal(s, result.newState);
  });
}

/**
 * Opens an application message with the current epoch's keys or a retained one's (ts-mls's processPrivateMessage
 * would not say who sent it; ../ts-mls-internals.ts), and keeps the secret tree it advanced.
 */
async function processApplication(s: ClientState, pm: PrivateMessage, impl: CiphersuiteImpl): Promise<ProcessedMessage> {
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
function describeCommit(before: ClientState, after: ClientState, message: MLSMessage, seen: CommitSeen): ProcessedMessage {
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

function describeProposal(before: ClientState, after: ClientState): ProcessedMessage {
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
