/**
 * Who is who across a commit: the same device at two leaves, and which removed members left (their own account
 * proposed the Remove, RFC 9420 §12.1.3) rather than being removed by someone else.
 */
import type { ProposalWithSender, RatchetTree } from 'ts-mls';
import { leafAt, memberOf } from '../mls-common.js';
import type { GroupMember } from '../mls-common.js';
import type { DeviceAddress } from './types.js';

export function sameDevice(a: DeviceAddress, b: DeviceAddress): boolean {
  return a.accountId === b.accountId && a.deviceId === b.deviceId;
}

/**
 * The members of `removed` whose Remove proposal (among `proposals`, with their authenticated senders) came from a
 * device of their own account: they left, rather than being removed by someone else.
 */
export function leavers(tree: RatchetTree, proposals: readonly ProposalWithSender[], removed: readonly GroupMember[]): GroupMember[] {
  const proposer = new Map<number, string | undefined>();
  for (const p of proposals) {
    if (p.proposal.proposalType !== 'remove') continue;
    const leaf = p.senderLeafIndex === undefined ? undefined : leafAt(tree, p.senderLeafIndex);
    proposer.set(p.proposal.remove.removed, leaf === undefined || p.senderLeafIndex === undefined ? undefined : memberOf(leaf, p.senderLeafIndex).accountId);
  }
  return removed.filter((m) => proposer.get(m.leafIndex) === m.accountId);
}
