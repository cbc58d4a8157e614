/**
 * Reading a group state or a message without changing anything: the group's id, epoch, tree hash (RFC 9420 §7.8),
 * epoch authenticator (§8.7) and members, and the cleartext framing of an MLS message (§6).
 */
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';
import { decodeMessage, leafAt, memberOf, membersOf } from '../mls-common.js';
import type { GroupMember } from '../mls-common.js';
import { inner, isZeroKeyed } from './group-state.js';
import type { GroupState, MessageInfo } from './types.js';

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
  return isZeroKeyed(inner(state));
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
