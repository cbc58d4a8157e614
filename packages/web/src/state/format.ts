/** How times, timers and message previews read in the UI. */
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

/** One line for the chat list. */
export function previewOf(message: MessageRecord | undefined, nameOf: (accountId: string) => string): string {
  if (!message) return '';
  if (message.kind === 'system') return systemText(message, nameOf);
  if (message.deleted) return 'Message deleted';
  const prefix = message.direction === 'outgoing' ? 'You: ' : '';
  if (message.body) return prefix + message.body.split('\n')[0];
  const first = message.attachments?.[0];
  if (first) return `${prefix}${first.contentType.startsWith('image/') ? 'Photo' : `File: ${first.fileName ?? 'attachment'}`}`;
  return prefix;
}

export function systemText(message: MessageRecord, nameOf: (accountId: string) => string): string {
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
    default:
      return '';
  }
}
