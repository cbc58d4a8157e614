/**
 * The page's view of one running Client: the connection, the chat list, the contacts and who is typing, as one
 * immutable snapshot that React reads with useSyncExternalStore; and a stream of message changes that an open
 * conversation applies to the history it loaded. Everything shown comes from the SDK's store (IndexedDB), so the
 * page shows the same thing online and offline, and after a reload.
 */
import { useSyncExternalStore } from 'react';
import { ClientError, ClientErrorCode } from '@samizdat/client';
import type { Client, ContactRecord, ConversationSummary, DeliveryState, MessageRecord } from '@samizdat/client';

export interface MessengerSnapshot {
  readonly connection: DeliveryState;
  /** navigator.onLine: false means the browser itself knows it has no network. */
  readonly browserOnline: boolean;
  /** The server's queue has been drained since the connection last opened. */
  readonly synced: boolean;
  readonly conversations: readonly ConversationSummary[];
  readonly contacts: ReadonlyMap<string, ContactRecord>;
  /** Conversations whose other side is typing now. */
  readonly typing: ReadonlySet<string>;
}

export type MessageChange =
  | { readonly kind: 'added' | 'updated'; readonly message: MessageRecord }
  | { readonly kind: 'removed'; readonly message: MessageRecord };

/** How long a "started typing" holds without a "stopped" (the sender repeats it while typing). */
const TYPING_HOLD_MS = 8000;

export class Messenger {
  private snapshot: MessengerSnapshot = {
    connection: 'idle',
    browserOnline: navigator.onLine,
    synced: false,
    conversations: [],
    contacts: new Map(),
    typing: new Set(),
  };
  private readonly listeners = new Set<() => void>();
  private readonly changeListeners = new Set<(change: MessageChange) => void>();
  private readonly typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly unsubscribe: (() => void)[] = [];
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  constructor(readonly client: Client) {
    const c = client;
    this.unsubscribe.push(
      c.on('connection', (connection) => this.update({ connection, ...(connection === 'open' ? {} : { synced: false }) })),
      c.on('queue-empty', () => this.update({ synced: true })),
      c.on('message', (message) => {
        if (message.author === message.conversation) this.setTyping(message.conversation, false);
        this.changed({ kind: 'added', message });
      }),
      c.on('message-updated', (message) => this.changed({ kind: 'updated', message })),
      c.on('message-expired', (message) => this.changed({ kind: 'removed', message })),
      c.on('typing', (event) => this.setTyping(event.conversation, event.action === 'started')),
      c.on('identity-changed', () => void this.refresh()),
    );
    const online = () => {
      this.update({ browserOnline: navigator.onLine });
      if (navigator.onLine && this.snapshot.connection === 'backoff') void this.reconnect();
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', online);
    this.unsubscribe.push(() => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', online);
    });
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): MessengerSnapshot => this.snapshot;

  /** Every stored message change of every conversation, as it happens. */
  onMessageChange(listener: (change: MessageChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  async start(): Promise<void> {
    await this.refresh();
    await this.client.start();
  }

  /** Drops the waiting connection attempt and connects now ("Retry now", or the browser came back online). */
  async reconnect(): Promise<void> {
    await this.client.stop();
    await this.client.start();
  }

  async close(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const timer of this.typingTimers.values()) clearTimeout(timer);
    await this.client.close();
  }

  /** The name to show for an account: its username, else its (unverified) chosen name, else a short id. */
  nameOf(accountId: string): string {
    if (accountId === this.client.accountId) return this.client.username ?? 'You';
    const contact = this.snapshot.contacts.get(accountId);
    return contact?.username ?? contact?.name ?? accountId.slice(0, 8);
  }

  /** Re-reads the chat list and the contacts from the store; calls that overlap collapse into one more read. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const [conversations, contacts] = await Promise.all([this.client.conversations(), this.client.contacts()]);
        const sorted = [...conversations].sort((a, b) => (b.lastMessage?.timestamp ?? 0) - (a.lastMessage?.timestamp ?? 0));
        this.update({ conversations: sorted, contacts: new Map(contacts.map((c) => [c.accountId, c])) });
      } while (this.refreshAgain);
    })()
      .catch(() => undefined)
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private changed(change: MessageChange): void {
    for (const listener of [...this.changeListeners]) listener(change);
    void this.refresh();
  }

  private setTyping(conversation: string, typing: boolean): void {
    const timer = this.typingTimers.get(conversation);
    if (timer) clearTimeout(timer);
    this.typingTimers.delete(conversation);
    if (typing) this.typingTimers.set(conversation, setTimeout(() => this.setTyping(conversation, false), TYPING_HOLD_MS));
    if (this.snapshot.typing.has(conversation) === typing) return;
    const next = new Set(this.snapshot.typing);
    if (typing) next.add(conversation);
    else next.delete(conversation);
    this.update({ typing: next });
  }

  private update(change: Partial<MessengerSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    for (const listener of [...this.listeners]) listener();
  }
}

export function useMessenger(messenger: Messenger): MessengerSnapshot {
  return useSyncExternalStore(messenger.subscribe, messenger.getSnapshot);
}

/** A sentence for the user about what went wrong (never message text or keys: the SDK's messages carry neither). */
export function describeError(err: unknown): string {
  if (ClientError.is(err)) {
    switch (err.code) {
      case ClientErrorCode.ServerUnreachable:
        return 'The server cannot be reached. Check the connection and try again.';
      case ClientErrorCode.UnknownUser:
        return 'No one has that username.';
      case ClientErrorCode.LinkFailed:
        return 'Linking failed. Start again with a new code.';
      case ClientErrorCode.ServerError:
        switch (err.server?.code) {
          case 'USERNAME_TAKEN':
            return 'That username is taken. Pick another one.';
          case 'INVALID_USERNAME':
            return 'Usernames are 3–32 letters, digits, "_" or ".", starting with a letter.';
          case 'LINK_CODE_INVALID':
            return 'That code is wrong, used or expired. Ask the new device for a fresh one.';
          case 'TOO_MANY_DEVICES':
            return 'This account already has the most devices it may have. Remove one first.';
          case 'RATE_LIMITED':
            return 'Too many requests. Wait a moment and try again.';
          case 'ATTACHMENT_TOO_LARGE':
            return 'That file is larger than the server accepts.';
          default:
            return err.message;
        }
      default:
        return err.message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}
