/** How times, timers and message previews read in the UI. */
import { isGroupId } from '@samizdat/protocol';
import type { MessageRecord, MessageStatus } from '@samizdat/client';
import type { IconName } from '../components/icons.js';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** "14:05" today, "Mar 3" before. */
export function shortTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  return new Date(now).toDateString() === d.toDateString() ? timeFormat.format(d) : dayFormat.format(d);
}

export function fullTime(ms: number): string {
  return fullFormat.format(new Date(ms));
}

export const TIMER_CHOICES: readonly { readonly seconds: number; readonly label: string }[] = [
  { seconds: 0, label: 'Off' },
  { seconds: 30, label: '30 seconds' },
  { seconds: 5 * 60, label: '5 minutes' },
  { seconds: 60 * 60, label: '1 hour' },
  { seconds: 24 * 3600, label: '1 day' },
  { seconds: 7 * 24 * 3600, label: '1 week' },
  { seconds: 28 * 24 * 3600, label: '4 weeks' },
];

export function timerLabel(seconds: number): string {
  const known = TIMER_CHOICES.find((c) => c.seconds === seconds);
  if (known) return known.label;
  if (seconds % 86400 === 0) return `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

/** The tick of an outgoing message and what it means, for sighted and screen-reader users alike. */
export function statusView(status: MessageStatus): { readonly icon: IconName; readonly label: string } {
  switch (status) {
    case 'pending':
      return { icon: 'clock', label: 'Sending' };
    case 'sent':
      return { icon: 'check', label: 'Stored on the server' };
    case 'delivered':
      return { icon: 'checks', label: 'Delivered' };
    case 'read':
      return { icon: 'checks', label: 'Read' };
    case 'failed':
      return { icon: 'alert', label: 'Not sent' };
    default:
      return { icon: 'check', label: '' };
  }
}

/** What a system line needs besides the message: who "you" is, and (for group settings) the settings before it. */
export interface SystemContext {
  /** This account's id: "you" in the middle of a sentence. */
  readonly me?: string;
  /**
   * For 'group-updated': the group's settings as the previous 'group-updated' entry left them; null when there is
   * none (the first settings this device saw); undefined when not known (the chat list's preview).
   */
  readonly previousSettings?: GroupSettings | null;
}

export interface GroupSettings {
  readonly name: string | undefined;
  readonly admins: readonly string[];
}

/** One line for the chat list; in a group, incoming messages are prefixed with their author. */
export function previewOf(message: MessageRecord | undefined, nameOf: (accountId: string) => string, context: SystemContext & { readonly group?: boolean } = {}): string {
  if (!message) return '';
  if (message.kind === 'system') return systemText(message, nameOf, context);
  if (message.deleted) return 'Message deleted';
  const prefix = message.direction === 'outgoing' ? 'You: ' : context.group ? `${nameOf(message.author)}: ` : '';
  if (message.body) return prefix + message.body.split('\n')[0];
  const first = message.attachments?.[0];
  if (first) return `${prefix}${first.contentType.startsWith('image/') ? 'Photo' : `File: ${first.fileName ?? 'attachment'}`}`;
  return prefix;
}

export function systemText(message: MessageRecord, nameOf: (accountId: string) => string, context: SystemContext = {}): string {
  switch (message.event) {
    case 'identity-changed':
      return `Your safety number with ${nameOf(message.conversation)} changed. Verify it before you trust this conversation again.`;
    case 'undecryptable':
      return `A message from ${nameOf(message.author)} could not be decrypted. The session was repaired and they were asked to send it again.`;
    case 'timer-changed': {
      const seconds = Number(message.body ?? '0');
      const who = nameOf(message.author);
      return seconds > 0 ? `${who} set disappearing messages to ${timerLabel(seconds)}.` : `${who} turned disappearing messages off.`;
    }
    case 'group-members':
      return membersText(message, nameOf, context.me);
    case 'group-updated':
      return settingsText(message, nameOf, context);
    case 'history-unavailable':
      return isGroupId(message.conversation)
        ? 'This device joined the group here: messages sent before that are not on it (your other devices have them).'
        : 'This device was linked here: earlier messages of this chat are not on it (your other devices have them).';
    default:
      return '';
  }
}

/** The settings a 'group-updated' entry records (body `{name, admins}`). */
export function groupSettingsOf(message: MessageRecord): GroupSettings {
  const details = parseBody(message.body);
  return {
    name: typeof details.name === 'string' ? details.name : undefined,
    admins: stringsOf(details.admins),
  };
}

/** "a", "a and b", "a, b and c". */
export function listOf(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] as string}`;
}

/**
 * A 'group-members' entry (body `{added, removed, left, byAdmin}`, account ids; the author is whoever made the
 * commit, as MLS authenticates it). Entries stored before `left` existed have only `added` and `removed`, where a
 * leave committed by an admin's device was one of the removed.
 */
function membersText(message: MessageRecord, nameOf: (accountId: string) => string, me: string | undefined): string {
  const details = parseBody(message.body);
  const added = stringsOf(details.added);
  const removed = stringsOf(details.removed);
  const left = stringsOf(details.left);
  const legacy = !Array.isArray(details.left);
  const author = message.author;
  const mine = author === me;
  const who = mine ? 'You' : nameOf(author);
  const named = (id: string) => (id === me ? 'you' : nameOf(id));
  const parts: string[] = [];
  const others = added.filter((a) => a !== author);
  if (others.length > 0) parts.push(`${who} added ${listOf(others.map(named))}.`);
  // Before `left`: a new device of a member joined by its own commit and the author "added" their own account.
  if (legacy && added.includes(author)) parts.push(`${who} joined on another device.`);
  if (left.length > 0) {
    if (left.includes(me ?? '')) parts.push('You left the group.');
    const rest = left.filter((l) => l !== me);
    if (rest.length > 0) parts.push(`${listOf(rest.map(named))} left the group.`);
  }
  if (removed.length > 0) {
    if (mine) parts.push(removed.every((r) => r === me) ? 'You left the group.' : `You removed ${listOf(removed.filter((r) => r !== me).map(named))}.`);
    else if (!legacy) parts.push(`${who} removed ${listOf(removed.map(named))}.`);
    else if (removed.includes(me ?? '')) parts.push('You are no longer in this group.');
    else parts.push(`${listOf(removed.map(named))} ${removed.length === 1 ? 'is' : 'are'} no longer in the group.`);
  }
  if (details.byAdmin === false && !mine && (others.length > 0 || removed.length > 0)) parts.push(`${who} is not an admin of this group.`);
  return parts.join(' ') || `${who} changed the members.`;
}

/** A 'group-updated' entry: what changed against the settings before it. */
function settingsText(message: MessageRecord, nameOf: (accountId: string) => string, context: SystemContext): string {
  const { name, admins } = groupSettingsOf(message);
  const who = message.author === context.me ? 'You' : nameOf(message.author);
  const adminList = listOf(admins.map((id) => (id === context.me ? 'you' : nameOf(id))));
  const previous = context.previousSettings;
  // The settings as they stand, sent to a device that just joined: not something anyone did just now.
  if (parseBody(message.body).current === true) {
    const called = name !== undefined ? `This group is called “${name}”.` : 'This group has no name.';
    return admins.length > 0 ? `${called} Admins: ${adminList}.` : called;
  }
  if (previous === undefined) return name !== undefined ? `${who} named the group “${name}”.` : `${who} changed the admins: ${adminList}.`;
  if (previous === null) {
    const named = name !== undefined ? `${who} named the group “${name}”.` : `${who} set up the group.`;
    return admins.length === 1 && admins[0] === message.author ? named : `${named} Admins: ${adminList}.`;
  }
  const parts: string[] = [];
  if (name !== undefined && name !== previous.name) parts.push(`${who} renamed the group to “${name}”.`);
  if ([...admins].sort().join() !== [...previous.admins].sort().join()) parts.push(`${who} changed the admins: ${adminList}.`);
  return parts.join(' ') || `${who} sent the group's settings again.`;
}

function parseBody(body: string | undefined): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body ?? '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
