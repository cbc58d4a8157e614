/** The lines a group conversation shows for what happened in it: members added, removed or gone, settings changed. */
import { membersOfGroup, toHex } from '@samizdat/protocol';
import type { CryptoProvider, DeviceAddress, GroupState } from '@samizdat/protocol';
import type { Content } from '../content/content.js';
import type { GroupRecord, MessageRecord } from '../storage/store.js';

/** What a notice needs: ids and the time it is stored. */
export interface NoticeClock {
  readonly crypto: CryptoProvider;
  now(): number;
}

/**
 * The group after a `group-update` from `author`: admins may change the name and the admins; anything else is
 * unchanged. (Right after a Welcome the admins are provisionally whoever added us, until the settings arrive.)
 */
export function withSettings(group: GroupRecord, content: Content, author: string): GroupRecord {
  if (content.type !== 'group-update') return group;
  if (group.admins.length > 0 && !group.admins.includes(author)) return group;
  return {
    ...group,
    ...(content.name !== undefined ? { name: content.name } : {}),
    ...(content.admins !== undefined ? { admins: [...content.admins] } : {}),
  };
}

/** The 'group-updated' line for a change of name or admins, if `after` differs from `before`. */
export function settingsNotice(clock: NoticeClock, before: GroupRecord, after: GroupRecord, author: DeviceAddress, timestamp: number, current = false): MessageRecord | undefined {
  if (after.name === before.name && after.admins.join() === before.admins.join()) return undefined;
  return groupNotice(clock, before.groupId, author, timestamp, 'group-updated', JSON.stringify({ name: after.name, admins: after.admins, ...(current ? { current: true } : {}) }));
}

/**
 * The 'group-members' line for a commit by `author`, if it changed which accounts are members: accounts, not
 * devices (a member's device joining or going is not news to the group). `left`: removed leaves whose own account
 * proposed it; an account all of whose leaves went that way left, any other gone account was removed by `author`.
 */
export function membersNotice(
  clock: NoticeClock,
  groupId: string,
  before: GroupState,
  after: GroupState,
  left: readonly DeviceAddress[],
  author: DeviceAddress,
  byAdmin: boolean,
): MessageRecord | undefined {
  const accounts = (state: GroupState) => new Set(membersOfGroup(state).map((m) => m.accountId));
  const was = accounts(before);
  const is = accounts(after);
  const added = [...is].filter((a) => !was.has(a));
  const gone = [...was].filter((a) => !is.has(a));
  const leftAccounts = new Set(left.map((m) => m.accountId));
  const removed = gone.filter((a) => !leftAccounts.has(a));
  const leavers = gone.filter((a) => leftAccounts.has(a));
  if (added.length === 0 && gone.length === 0) return undefined;
  return groupNotice(clock, groupId, author, clock.now(), 'group-members', JSON.stringify({ added, removed, left: leavers, byAdmin }));
}

export function groupNotice(clock: NoticeClock, conversation: string, author: DeviceAddress, timestamp: number, event: 'group-members' | 'group-updated' | 'history-unavailable', body: string): MessageRecord {
  return {
    conversation,
    id: toHex(clock.crypto.randomBytes(16)),
    author: author.accountId,
    authorDevice: author.deviceId,
    timestamp,
    receivedAt: clock.now(),
    direction: 'incoming',
    kind: 'system',
    event,
    body,
    status: 'received',
  };
}
