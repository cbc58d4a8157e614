/**
 * The page's view of one running Client: the connection, the chat list, the contacts, the groups and who is typing,
 * as one immutable snapshot that React reads with useSyncExternalStore; and a stream of message changes that an open
 * conversation applies to the history it loaded. Everything shown comes from the SDK's store (IndexedDB), so the
 * page shows the same thing online and offline, and after a reload.
 *
 * Every conversation carries its message-request state (the SDK's, packages/client/src/contacts/requests.ts): the chat
 * list shows the accepted ones, "Message requests" the others, and a blocked account's chat is listed nowhere.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { ClientError, ClientErrorCode } from '@samizdat/client';
import type { Client, ContactRecord, ConversationSummary, DeliveryState, GroupView, MessageRecord } from '@samizdat/client';

/** A conversation the user talks in, a message request, or a blocked account's (the SDK does not export its name). */
export type ConversationState = NonNullable<ConversationSummary['state']>;

/** A conversation of the chat list, with its state. */
export interface ListedConversation {
  readonly conversation: string;
  readonly lastMessage: MessageRecord | undefined;
  readonly unread: number;
  readonly state: ConversationState;
}

/** A conversation accepted, blocked, unblocked or deleted, here or on another device of the account. */
export interface ConversationChange {
  readonly conversation: string;
  readonly state: ConversationState;
  /** Its messages were deleted. */
  readonly deleted: boolean;
}

export interface MessengerSnapshot {
  readonly connection: DeliveryState;
  /** navigator.onLine: false means the browser itself knows it has no network. */
  readonly browserOnline: boolean;
  /** The server's queue has been drained since the connection last opened. */
  readonly synced: boolean;
  /** The conversations below have been read from the store (until then, nobody's request state is known). */
  readonly listed: boolean;
  /**
   * Newest first, whatever their state (see `chatsOf`, `requestsOf`); groups nobody has written in yet are listed
   * too (with no last message).
   */
  readonly conversations: readonly ListedConversation[];
  readonly contacts: ReadonlyMap<string, ContactRecord>;
  /** Every group this device is or was in, by group id. */
  readonly groups: ReadonlyMap<string, GroupView>;
  /** Who added this device to a group, by group id (groups joined through someone's Welcome). */
  readonly addedBy: ReadonlyMap<string, string>;
  /** Conversations where someone is typing now: the account ids of who is. */
  readonly typing: ReadonlyMap<string, readonly string[]>;
}

export type MessageChange =
  | { readonly kind: 'added' | 'updated'; readonly message: MessageRecord }
  | { readonly kind: 'removed'; readonly message: MessageRecord };

/** How long a "started typing" holds without a "stopped" (the sender repeats it while typing). */
const TYPING_HOLD_MS = 8000;
/** How often an open group screen re-reads its group (local storage only). */
const GROUP_WATCH_MS = 2000;

export class Messenger {
  private snapshot: MessengerSnapshot = {
    connection: 'idle',
    browserOnline: navigator.onLine,
    synced: false,
    listed: false,
    conversations: [],
    contacts: new Map(),
    groups: new Map(),
    addedBy: new Map(),
    typing: new Map(),
  };
  private readonly listeners = new Set<() => void>();
  private readonly changeListeners = new Set<(change: MessageChange) => void>();
  private readonly conversationListeners = new Set<(change: ConversationChange) => void>();
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
        if (message.kind === 'message') this.setTyping(message.conversation, message.author, false);
        this.changed({ kind: 'added', message });
      }),
      c.on('message-updated', (message) => this.changed({ kind: 'updated', message })),
      c.on('message-expired', (message) => this.changed({ kind: 'removed', message })),
      c.on('typing', (event) => {
        // Typing in a request is not shown (the SDK drops it in a person's request, but not in a group's).
        if (event.action === 'started' && stateOf(this.snapshot, event.conversation) !== 'accepted') return;
        this.setTyping(event.conversation, event.author, event.action === 'started');
      }),
      c.on('identity-changed', () => void this.refresh()),
      c.on('conversation-changed', (change) => {
        for (const listener of [...this.conversationListeners]) listener(change);
        void this.refresh();
      }),
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

  /** Conversations accepted, blocked, unblocked or deleted (here or on another device of the account), as it happens. */
  onConversationChange(listener: (change: ConversationChange) => void): () => void {
    this.conversationListeners.add(listener);
    return () => this.conversationListeners.delete(listener);
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

  /**
   * The name to show for an account: its username, else its (unverified) chosen name, else a short id; for a group,
   * its name. A group member who has never written here and was added by someone else is known by id only (the
   * server has no directory from account ids to usernames); their first message tells their username.
   */
  nameOf(accountId: string): string {
    if (accountId === this.client.accountId) return this.client.username ?? 'You';
    const group = this.snapshot.groups.get(accountId);
    if (group) return group.name ?? 'Unnamed group';
    const contact = this.snapshot.contacts.get(accountId);
    return contact?.username ?? contact?.name ?? accountId.slice(0, 8);
  }

  /** Re-reads the chat list, the contacts and the groups from the store; overlapping calls collapse into one more read. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const [conversations, contacts, groups] = await Promise.all([this.client.conversations(), this.client.contacts(), this.client.groups.list()]);
        const records = await Promise.all(groups.map((g) => this.client.groups.find(g.groupId)));
        // A group nobody has written in has no message yet: listed by when it was made (joined).
        const listed = new Set(conversations.map((c) => c.conversation));
        const quiet = records
          .filter((g) => g.active && !listed.has(g.groupId))
          .map((g) => ({ conversation: g.groupId, lastMessage: undefined, unread: 0, state: g.request ? 'request' : 'accepted', at: g.createdAt }) as const);
        const at = (c: { lastMessage: MessageRecord | undefined; at?: number }) => c.lastMessage?.timestamp ?? c.at ?? 0;
        const sorted = [...conversations, ...quiet]
          .sort((a, b) => at(b) - at(a))
          .map(({ conversation, lastMessage, unread, state }): ListedConversation => ({ conversation, lastMessage, unread, state: state ?? 'accepted' }));
        this.update({
          listed: true,
          conversations: sorted,
          contacts: new Map(contacts.map((c) => [c.accountId, c])),
          groups: new Map(groups.map((g) => [g.groupId, g])),
          addedBy: new Map(records.flatMap((g) => (g.addedBy === undefined ? [] : [[g.groupId, g.addedBy] as const]))),
        });
      } while (this.refreshAgain);
    })()
      .catch(() => undefined)
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Re-reads one group. Some changes come with no event: this device committing a member's leave (admins' devices
   * do so by themselves), or an update commit. The group screens call this while they are open.
   */
  async refreshGroup(groupId: string): Promise<void> {
    try {
      const view = this.client.groups.view(await this.client.groups.find(groupId));
      const known = this.snapshot.groups.get(groupId);
      if (known && sameView(known, view)) return;
      this.update({ groups: new Map(this.snapshot.groups).set(groupId, view) });
    } catch {
      // Not on this device (any more): the next full refresh says so.
    }
  }

  private changed(change: MessageChange): void {
    for (const listener of [...this.changeListeners]) listener(change);
    void this.refresh();
  }

  private setTyping(conversation: string, author: string, typing: boolean): void {
    const key = `${conversation}/${author}`;
    const timer = this.typingTimers.get(key);
    if (timer) clearTimeout(timer);
    this.typingTimers.delete(key);
    if (typing) this.typingTimers.set(key, setTimeout(() => this.setTyping(conversation, author, false), TYPING_HOLD_MS));
    const current = this.snapshot.typing.get(conversation) ?? [];
    if (current.includes(author) === typing) return;
    const next = new Map(this.snapshot.typing);
    const authors = typing ? [...current, author] : current.filter((a) => a !== author);
    if (authors.length > 0) next.set(conversation, authors);
    else next.delete(conversation);
    this.update({ typing: next });
  }

  private update(change: Partial<MessengerSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    for (const listener of [...this.listeners]) listener();
  }
}

/** The chat list proper: the conversations the user talks in (no message requests, nobody blocked). */
export function chatsOf(snapshot: MessengerSnapshot): ListedConversation[] {
  return snapshot.conversations.filter((c) => c.state === 'accepted');
}

/** The message requests, newest first. */
export function requestsOf(snapshot: MessengerSnapshot): ListedConversation[] {
  return snapshot.conversations.filter((c) => c.state === 'request');
}

/** The state of one conversation: a person never written with (no messages yet) is no request, just a new chat. */
export function stateOf(snapshot: MessengerSnapshot, conversation: string): ConversationState {
  if (snapshot.contacts.get(conversation)?.blocked) return 'blocked';
  return snapshot.conversations.find((c) => c.conversation === conversation)?.state ?? 'accepted';
}

/** The blocked accounts, by name. */
export function blockedOf(snapshot: MessengerSnapshot, nameOf: (accountId: string) => string): ContactRecord[] {
  return [...snapshot.contacts.values()].filter((c) => c.blocked === true).sort((a, b) => nameOf(a.accountId).localeCompare(nameOf(b.accountId)));
}

export function useMessenger(messenger: Messenger): MessengerSnapshot {
  return useSyncExternalStore(messenger.subscribe, messenger.getSnapshot);
}

function sameView(a: GroupView, b: GroupView): boolean {
  const members = (v: GroupView) => v.members.map((m) => `${m.accountId}:${m.devices.join('.')}`).join();
  return a.epoch === b.epoch && a.active === b.active && a.name === b.name && a.expireTimer === b.expireTimer && a.admins.join() === b.admins.join() && members(a) === members(b);
}

/** While mounted and the page is visible, re-reads the group every few seconds (see Messenger.refreshGroup). */
export function useGroupWatch(messenger: Messenger, groupId: string | undefined): void {
  useEffect(() => {
    if (groupId === undefined) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void messenger.refreshGroup(groupId);
    }, GROUP_WATCH_MS);
    return () => clearInterval(timer);
  }, [messenger, groupId]);
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
      case ClientErrorCode.Blocked:
        return 'You blocked this person. Unblock them to write to them.';
      case ClientErrorCode.InvalidArgument:
      case ClientErrorCode.Timeout:
        return sentence(err.message);
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
          case 'NOT_A_GROUP_MEMBER':
            return 'This browser is no longer in that group.';
          case 'GROUP_NOT_FOUND':
            return 'The server does not know that group.';
          default:
            return err.message;
        }
      default:
        return err.message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** The SDK's messages are clauses ("nobody to add: …"): shown as a sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return 'Something went wrong.';
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
