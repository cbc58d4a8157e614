/**
 * What the group screens do, on top of the SDK's `client.groups` (which records each change in the group's
 * conversation on this device too, and sends the group's settings to members it adds). Besides the change itself,
 * who could not be added is reported: an account none of whose devices has published MLS key packages yet is left
 * out by the SDK without an error. Each resolves once the page shows the change (the SDK announces it:
 * 'group-changed', and the line it records in the conversation).
 */
import { ClientError, ClientErrorCode } from '@samizdat/client';
import type { GroupView } from '@samizdat/client';
import { describeError } from './errors.js';
import type { Messenger } from './messenger.js';

/** A person picked by username (resolved through the server, so the account exists). */
export interface Person {
  readonly accountId: string;
  readonly username: string;
}

/**
 * Looks `username` up (the server says whether it exists): the person to add, or a sentence saying why not.
 * `taken` are the account ids already picked or already members.
 */
export async function findPerson(messenger: Messenger, username: string, taken: ReadonlySet<string>): Promise<Person | string> {
  const name = username.trim().replace(/^@/, '');
  if (!name) return 'Type a username.';
  try {
    const contact = await messenger.client.resolve(name);
    const shown = contact.username ?? name;
    if (contact.accountId === messenger.client.accountId) return 'That is you: you are in every group you make or join.';
    if (taken.has(contact.accountId)) return `${shown} is already on the list.`;
    return { accountId: contact.accountId, username: shown };
  } catch (err) {
    if (ClientError.is(err, ClientErrorCode.UnknownUser)) return describeError(err, { kind: 'lookup', username: name });
    throw err;
  }
}

const memberIds = (view: GroupView) => view.members.map((m) => m.accountId);

async function currentView(messenger: Messenger, groupId: string): Promise<GroupView> {
  const groups = messenger.client.groups;
  return groups.view(await groups.find(groupId));
}

/** Creates the group (this account is its admin) and returns its id and whoever could not be added yet. */
export async function createGroup(messenger: Messenger, name: string, people: readonly Person[]): Promise<{ groupId: string; missing: Person[] }> {
  const client = messenger.client;
  const me = client.accountId;
  const record = await client.groups.create(name, people.map((p) => p.accountId));
  const members = memberIds(client.groups.view(record)).filter((a) => a !== me);
  await messenger.settled();
  return { groupId: record.groupId, missing: people.filter((p) => !members.includes(p.accountId)) };
}

/** Adds people (admins only) and tells them the group's settings; returns whoever could not be added yet. */
export async function addMembers(messenger: Messenger, groupId: string, people: readonly Person[]): Promise<{ missing: Person[] }> {
  const groups = messenger.client.groups;
  await groups.add(groupId, people.map((p) => p.accountId));
  const after = memberIds(await currentView(messenger, groupId));
  await messenger.settled();
  return { missing: people.filter((p) => !after.includes(p.accountId)) };
}

/** Removes every device of a member (admins only). */
export async function removeMember(messenger: Messenger, groupId: string, accountId: string): Promise<void> {
  await messenger.client.groups.remove(groupId, [accountId]);
  await messenger.settled();
}

/** Renames the group (admins only: the other members' devices ignore a name from anyone else). */
export async function renameGroup(messenger: Messenger, groupId: string, name: string): Promise<void> {
  await messenger.client.groups.rename(groupId, name);
  await messenger.settled();
}

/** Sets who may add and remove members, rename the group and change the admins (admins only). */
export async function setAdmins(messenger: Messenger, groupId: string, admins: readonly string[]): Promise<void> {
  await messenger.client.groups.setAdmins(groupId, admins);
  await messenger.settled();
}

/** Leaves with this device: it stops receiving the group (an admin's device completes the removal). */
export async function leaveGroup(messenger: Messenger, groupId: string): Promise<void> {
  await messenger.client.groups.leave(groupId);
  await messenger.settled();
}
