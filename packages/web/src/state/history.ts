/**
 * One conversation's messages as an open screen shows them: the newest HISTORY_LIMIT from the store, then every
 * change the Messenger streams for it, applied in place (changes that arrive while the history loads are kept and
 * applied once it has).
 */
import { useEffect, useState } from 'react';
import type { MessageRecord } from '@samizdat/client';
import type { MessageChange, Messenger } from './messenger.js';

const HISTORY_LIMIT = 500;

/** A message's identity in its conversation (ids are the author's own). */
export const keyOf = (m: Pick<MessageRecord, 'author' | 'id'>): string => `${m.author}/${m.id}`;

export function applyChange(list: MessageRecord[], change: MessageChange): MessageRecord[] {
  const key = keyOf(change.message);
  const index = list.findIndex((m) => keyOf(m) === key);
  if (change.kind === 'removed') return index < 0 ? list : list.filter((_, i) => i !== index);
  if (index >= 0) return list.map((m, i) => (i === index ? change.message : m));
  if (change.kind === 'updated') return list; // Not among the messages loaded here.
  const next = [...list, change.message];
  next.sort((a, b) => a.timestamp - b.timestamp);
  return next;
}

export interface History {
  readonly messages: readonly MessageRecord[];
  /** The stored history has been read (until then `messages` holds nothing). */
  readonly loaded: boolean;
}

/** The messages of `peer`; a failure to read them goes to `onError`. */
export function useHistory(messenger: Messenger, peer: string, onError: (err: unknown) => void): History {
  const [messages, setMessages] = useState<MessageRecord[]>([]);
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    let cancelled = false;
    const early: MessageChange[] = [];
    let ready = false;
    setLoaded(false);
    setMessages([]);
    const off = messenger.onMessageChange((change) => {
      if (change.message.conversation !== peer) return;
      if (!ready) early.push(change);
      else setMessages((current) => applyChange(current, change));
    });
    void messenger.client.history(peer, { limit: HISTORY_LIMIT }).then(
      (history) => {
        if (cancelled) return;
        ready = true;
        setMessages(early.reduce<MessageRecord[]>((acc, change) => applyChange(acc, change), history));
        setLoaded(true);
      },
      (err: unknown) => !cancelled && onError(err),
    );
    return () => {
      cancelled = true;
      off();
    };
  }, [messenger, peer, onError]);
  // A conversation deleted closes its screen (ConversationScreen): what was shown goes at once.
  useEffect(
    () =>
      messenger.onConversationChange((change) => {
        if (change.conversation === peer && change.deleted) setMessages([]);
      }),
    [messenger, peer],
  );
  return { messages, loaded };
}
