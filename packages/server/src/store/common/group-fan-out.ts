/**
 * Which envelopes a group operation stores (the MLS Delivery Service of RFC 9420 §16.8 / RFC 9750 §5), the same in
 * both engines: they read the members under their own locks, build the rows here, keep those within the queue-depth
 * limit (admission.ts withinQueueDepth) and report what they stored.
 */
import { memberKey } from '../repository.js';
import type { GroupCommit, GroupMember, NewEnvelope, StoredGroupEnvelope } from '../repository.js';

/**
 * Who gets what of a commit (the contract of Repository.commitGroup): the commit for every device that was a member
 * before (the sender excepted — removed ones included, so they learn it), the Welcome for every device that is a
 * member only after.
 */
export function commitEnvelopes(commit: GroupCommit, before: readonly GroupMember[], after: readonly GroupMember[]): NewEnvelope[] {
  const sender = memberKey(commit.sender);
  const wasMember = new Set(before.map(memberKey));
  const row = (m: GroupMember, envelope: Uint8Array): NewEnvelope => ({
    accountId: m.accountId,
    deviceId: m.deviceId,
    sourceAccountId: commit.sender.accountId,
    sourceDeviceId: commit.sender.deviceId,
    envelope,
    receivedAt: commit.receivedAt,
    expiresAt: commit.expiresAt,
  });
  const envelopes = before.filter((m) => memberKey(m) !== sender).map((m) => row(m, commit.commit));
  const welcome = commit.welcome;
  if (welcome) for (const m of after) if (!wasMember.has(memberKey(m)) && memberKey(m) !== sender) envelopes.push(row(m, welcome));
  return envelopes;
}

/**
 * One application message for every member device but the sender (the contract of Repository.fanOutGroup); with no
 * sender (a sealed group send), for every member device, naming no source.
 */
export function fanOutEnvelopes(
  members: readonly GroupMember[],
  sender: GroupMember | undefined,
  envelope: Uint8Array,
  receivedAt: number,
  expiresAt: number,
): NewEnvelope[] {
  return members
    .filter((m) => sender === undefined || memberKey(m) !== memberKey(sender))
    .map((m) => ({
      accountId: m.accountId,
      deviceId: m.deviceId,
      sourceAccountId: sender?.accountId,
      sourceDeviceId: sender?.deviceId,
      envelope,
      receivedAt,
      expiresAt,
    }));
}

/** What a group operation stored, for the wake-ups: each envelope with its id (`ids` in the order of `envelopes`). */
export function storedGroupEnvelopes(envelopes: readonly NewEnvelope[], ids: readonly bigint[]): StoredGroupEnvelope[] {
  return envelopes.map((e, i) => ({ accountId: e.accountId, deviceId: e.deviceId, id: ids[i] as bigint, envelope: e.envelope }));
}
