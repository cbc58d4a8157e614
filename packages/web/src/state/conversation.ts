/**
 * What an open conversation does: its history (history.ts), marking what is on screen read while the page is
 * visible, typing (typing.ts), and the user's actions — send (text, a file, a reply; `queueIfOffline`, so that
 * without a connection it stays "sending" and goes out when the connection returns), edit, delete for everyone,
 * react, set the timer, unblock — with the progress of an upload and one error line for all of them.
 */
import { useCallback, useEffect, useState } from 'react';
import type { MessageRecord } from '@samizdat/client';
import { useActions } from './actions.js';
import { useHistory } from './history.js';
import type { Messenger } from './messenger.js';
import { unblock } from './requests.js';
import { useTypingSender } from './typing.js';
import type { TypingSender } from './typing.js';

export interface Upload {
  readonly name: string;
  readonly sent: number;
  readonly total: number;
}

/** What the composer sends. */
export interface Draft {
  readonly body: string;
  readonly file?: File | undefined;
  /** The message replied to. */
  readonly quote?: Pick<MessageRecord, 'id' | 'author'> | undefined;
}

export interface Conversation {
  readonly messages: readonly MessageRecord[];
  readonly loaded: boolean;
  /** The last failure (reading the history, or an action), for the user. */
  readonly error: string | undefined;
  readonly upload: Upload | undefined;
  readonly typing: TypingSender;
  /** Sends; resolves to false when nothing was sent (the error says why). */
  send(draft: Draft): Promise<boolean>;
  edit(target: MessageRecord, body: string): void;
  deleteForEveryone(target: MessageRecord): void;
  react(target: MessageRecord, emoji: string, remove: boolean): void;
  setTimer(seconds: number): void;
  unblock(): void;
}

const isUnread = (m: MessageRecord) => m.direction === 'incoming' && m.kind === 'message' && m.readAt === undefined && !m.deleted;

/** Uploads the file, if any, and sends; `onProgress` follows the upload. */
export async function sendDraft(messenger: Messenger, peer: string, draft: Draft, onProgress?: (sent: number, total: number) => void): Promise<void> {
  const { body, file, quote } = draft;
  const replying = quote ? { quote: { id: quote.id, author: quote.author } } : {};
  if (file) {
    const data = new Uint8Array(await file.arrayBuffer());
    await messenger.client.sendText(peer, body, {
      attachments: [{ data, contentType: file.type || 'application/octet-stream', fileName: file.name }],
      ...(onProgress ? { onProgress } : {}),
      queueIfOffline: true,
      ...replying,
    });
  } else {
    await messenger.client.sendText(peer, body, { queueIfOffline: true, ...replying });
  }
}

export function useConversation(messenger: Messenger, peer: string): Conversation {
  const client = messenger.client;
  const { run, fail, error } = useActions();
  const { messages, loaded } = useHistory(messenger, peer, fail);
  const typing = useTypingSender(messenger, peer);
  const [upload, setUpload] = useState<Upload>();

  // Mark read what is on screen, while the page is visible (never the note to self: nobody to tell).
  const unread = messages.some(isUnread);
  const self = peer === messenger.me;
  useEffect(() => {
    if (!unread || self) return;
    const markRead = () => {
      if (document.visibilityState === 'visible') void client.markRead(peer).catch(() => undefined);
    };
    markRead();
    document.addEventListener('visibilitychange', markRead);
    return () => document.removeEventListener('visibilitychange', markRead);
  }, [client, peer, unread, self]);

  const send = useCallback(
    async (draft: Draft) => {
      const file = draft.file;
      if (file) setUpload({ name: file.name, sent: 0, total: file.size });
      const outcome = await run('send', () => sendDraft(messenger, peer, draft, file ? (sent, total) => setUpload({ name: file.name, sent, total }) : undefined));
      setUpload(undefined);
      return outcome.ok;
    },
    [messenger, peer, run],
  );

  return {
    messages,
    loaded,
    error,
    upload,
    typing,
    send,
    edit: (target, body) => void run('edit', () => client.editMessage(peer, target.id, body)),
    deleteForEveryone: (target) => void run('delete', () => client.deleteForEveryone(peer, target.id)),
    react: (target, emoji, remove) => void run('react', () => client.react(peer, { id: target.id, author: target.author }, emoji, remove)),
    setTimer: (seconds) => void run('timer', () => client.setExpireTimer(peer, seconds)),
    unblock: () => void run('unblock', () => unblock(messenger, peer)),
  };
}
