/**
 * Client events as the JSON objects that `receive --json`, `chat` and the daemon print. Every message line has at
 * least: id, type, from (username, or a short account id when none is known), fromDevice, timestamp, body.
 */
import { GROUP_ID_PATTERN } from '@samizdat/client';
import type { Client, IdentityChangedEvent, MessageRecord, TypingEvent } from '@samizdat/client';

export interface SavedAttachment {
  readonly file?: string;
  readonly error?: string;
}

/** The name a sender's encrypted profile gives (theirs to choose: not verified), as `fromName`. */
async function profileName(client: Client, accountId: string): Promise<{ fromName?: string }> {
  if (accountId === client.accountId) return {};
  const name = (await client.contacts()).find((c) => c.accountId === accountId)?.name;
  return name !== undefined ? { fromName: name } : {};
}

export async function messageJson(
  client: Client,
  m: MessageRecord,
  saved: readonly SavedAttachment[] = [],
): Promise<Record<string, unknown>> {
  const type = m.kind === 'system' ? (m.event ?? 'system') : 'message';
  const isGroup = GROUP_ID_PATTERN.test(m.conversation);
  // A message request: shown, but a UI built on this output should not alert for it (docs/cli.md).
  const request = m.direction === 'incoming' && (await client.requestState(m.conversation)) === 'request';
  return {
    ...(request ? { request: true } : {}),
    ...(isGroup ? { group: await client.displayName(m.conversation), groupId: m.conversation } : {}),
    id: m.id,
    type,
    from: await client.displayName(m.author),
    ...(await profileName(client, m.author)),
    fromAccount: m.author,
    fromDevice: m.authorDevice,
    conversation: await client.displayName(m.conversation),
    conversationAccount: m.conversation,
    direction: m.direction,
    timestamp: m.timestamp,
    body: m.body ?? null,
    // A 1:1 message: whether it went sealed (the server did not learn its sender) or identified.
    ...(!isGroup && m.kind === 'message' ? { sealed: m.sealed === true } : {}),
    ...(m.quote ? { quote: m.quote } : {}),
    ...(m.expireTimer ? { expireTimer: m.expireTimer } : {}),
    ...(m.event === 'timer-changed' ? { expireTimer: Number(m.body) } : {}),
    ...(m.event === 'group-members' || m.event === 'group-updated' ? { details: JSON.parse(m.body ?? '{}') as unknown } : {}),
    ...(m.attachments?.length
      ? {
          attachments: m.attachments.map((a, i) => ({
            id: a.id,
            contentType: a.contentType,
            size: a.size,
            ...(a.fileName !== undefined ? { fileName: a.fileName } : {}),
            ...(saved[i]?.file !== undefined ? { file: saved[i]?.file } : {}),
            ...(saved[i]?.error !== undefined ? { error: saved[i]?.error } : {}),
          })),
        }
      : {}),
  };
}

export async function updateJson(client: Client, m: MessageRecord): Promise<Record<string, unknown>> {
  return {
    id: m.id,
    type: 'update',
    from: await client.displayName(m.author),
    fromAccount: m.author,
    conversation: await client.displayName(m.conversation),
    conversationAccount: m.conversation,
    timestamp: m.timestamp,
    status: m.status,
    body: m.body ?? null,
    deleted: m.deleted ?? false,
    ...(m.editedAt !== undefined ? { editedAt: m.editedAt } : {}),
    ...(m.readAt !== undefined ? { readAt: m.readAt } : {}),
    reactions: await Promise.all((m.reactions ?? []).map(async (r) => ({ from: await client.displayName(r.author), emoji: r.emoji }))),
  };
}

export async function typingJson(client: Client, t: TypingEvent): Promise<Record<string, unknown>> {
  return {
    type: 'typing',
    from: await client.displayName(t.author),
    fromAccount: t.author,
    fromDevice: t.authorDevice,
    conversation: await client.displayName(t.conversation),
    action: t.action,
    timestamp: Date.now(),
  };
}

export function identityJson(e: IdentityChangedEvent): Record<string, unknown> {
  return { type: 'identity-changed', from: e.username ?? e.accountId.slice(0, 8), fromAccount: e.accountId, timestamp: Date.now() };
}
