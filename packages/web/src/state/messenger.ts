/**
 * The page's view of one running Client: the connection, the chat list, the contacts, the groups and who is typing,
 * as one immutable snapshot that React reads with useSyncExternalStore; and a stream of message changes that an open
 * conversation applies to the history it loaded. Everything shown comes from the SDK's store (IndexedDB), so the
 * page shows the same thing online and offline, and after a reload.
 *
 * The store is read in full once, at the start; after that each event of the SDK re-reads only what it concerns:
 *
 *   'message', 'message-updated', 'message-expired'  → that conversation's entry of the chat list
 *   'group-changed'                                  → that group, and its chat list entry
 *   'conversation-changed'                           → that conversation's entry
 *   'contact-changed', 'identity-changed'            → the contacts
 *
 * Events come in bursts (a conversation marked read updates each of its messages): what they ask for is gathered
 * and read once. `settled()` says when the view has caught up with every event so far.
 *
 * Every conversation carries its message-request state (the SDK's, packages/client/src/contacts/requests.ts): the chat
 * list shows the accepted ones, "Message requests" the others, and a blocked account's chat is listed nowhere.
 */
import { useSyncExternalStore } from 'react';
import type { Client, ClientStore, ContactRecord, ConversationSummary, DeliveryState, GroupView, MessageRecord } from '@samizdat/client';

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

/** This device's account, as the screens show it. */
export interface AccountFacts {
  readonly accountId: string;
  readonly deviceId: number;
  readonly username: string | undefined;
  readonly serverUrl: string;
}

/**
 * What the page reads from its profile's store itself: one conversation's unread messages. The Client offers every
 * conversation's summary at once (`conversations()`) but not one conversation's.
 */
export type UnreadSource = Pick<ClientStore, 'listUnread'>;

/** How long a "started typing" holds without a "stopped" (the sender repeats it while typing). */
const TYPING_HOLD_MS = 8000;

/** A conversation with messages, as the chat list lists it. */
type Summary = ListedConversation & { readonly lastMessage: MessageRecord };

/** What the chat list and the group screens need of a group record besides its view. */
interface GroupEntry {
  readonly view: GroupView;
  readonly createdAt: number;
  readonly request: boolean;
  readonly addedBy: string | undefined;
}

/** What events said changed since it was last read. */
interface Stale {
  everything: boolean;
  contacts: boolean;
  readonly conversations: Set<string>;
  readonly groups: Set<string>;
}

const nothingStale = (): Stale => ({ everything: false, contacts: false, conversations: new Set(), groups: new Set() });

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
  private readonly summaries = new Map<string, Summary>();
  private readonly groupEntries = new Map<string, GroupEntry>();
  private stale = nothingStale();
  private reading: Promise<void> | undefined;

  /**
   * `client` is for the state layer (this folder) only: screens and components call the functions and hooks here,
   * which own the SDK calls, their progress and their errors.
   */
  constructor(
    readonly client: Client,
    private readonly unreadSource: UnreadSource,
  ) {
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
      c.on('identity-changed', () => void this.markStale({ contacts: true })),
      c.on('contact-changed', () => void this.markStale({ contacts: true })),
      c.on('conversation-changed', (change) => {
        for (const listener of [...this.conversationListeners]) listener(change);
        void this.markStale({ conversation: change.conversation });
      }),
      // A group's request state is its chat list entry's too.
      c.on('group-changed', ({ groupId }) => void this.markStale({ group: groupId, conversation: groupId })),
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

  get account(): AccountFacts {
    const c = this.client;
    return { accountId: c.accountId, deviceId: c.deviceId, username: c.username, serverUrl: c.serverUrl };
  }

  /** This account's id. */
  get me(): string {
    return this.client.accountId;
  }

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
    await this.markStale({ everything: true });
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

  /**
   * The name an account's encrypted profile gives, when it is not already what nameOf shows: theirs to choose, so
   * it is shown beside the username the server confirmed, never instead of it.
   */
  profileNameOf(accountId: string): string | undefined {
    const contact = this.snapshot.contacts.get(accountId);
    return contact?.name !== undefined && contact.username !== undefined && contact.name !== contact.username ? contact.name : undefined;
  }

  /** Resolves once the snapshot shows what every event so far announced (the state layer's actions wait for it). */
  settled(): Promise<void> {
    return this.reading ?? Promise.resolve();
  }

  private changed(change: MessageChange): void {
    for (const listener of [...this.changeListeners]) listener(change);
    void this.markStale({ conversation: change.message.conversation });
  }

  private markStale(what: { everything?: boolean; contacts?: boolean; conversation?: string; group?: string }): Promise<void> {
    if (what.everything) this.stale.everything = true;
    if (what.contacts) this.stale.contacts = true;
    if (what.conversation !== undefined) this.stale.conversations.add(what.conversation);
    if (what.group !== undefined) this.stale.groups.add(what.group);
    this.reading ??= this.catchUp();
    return this.reading;
  }

  /** Reads what is stale until nothing is: what events ask for meanwhile is read in the next round. */
  private async catchUp(): Promise<void> {
    // Let the rest of a burst of events arrive first (and `reading` be set before it can be cleared below).
    await Promise.resolve();
    for (;;) {
      const work = this.stale;
      const { everything, contacts, conversations, groups } = work;
      if (!everything && !contacts && conversations.size === 0 && groups.size === 0) break;
      this.stale = nothingStale();
      try {
        if (everything) await this.readEverything();
        else await this.readSome(work);
      } catch {
        // The store could not be read: the page keeps showing what it read last; the next event reads again.
      }
    }
    this.reading = undefined;
  }

  private async readEverything(): Promise<void> {
    const client = this.client;
    const [conversations, contacts, groups] = await Promise.all([client.conversations(), client.contacts(), client.groups.list()]);
    const records = await Promise.all(groups.map((g) => client.groups.find(g.groupId)));
    this.summaries.clear();
    for (const c of conversations) {
      if (c.lastMessage) this.summaries.set(c.conversation, { conversation: c.conversation, lastMessage: c.lastMessage, unread: c.unread, state: c.state ?? 'accepted' });
    }
    this.groupEntries.clear();
    records.forEach((record, i) => this.groupEntries.set(record.groupId, entryOf(groups[i] ?? client.groups.view(record), record)));
    this.update({ listed: true, contacts: new Map(contacts.map((c) => [c.accountId, c])), ...this.groupParts(), conversations: this.listing() });
  }

  private async readSome(work: Stale): Promise<void> {
    const client = this.client;
    const contacts = work.contacts ? client.contacts() : undefined;
    const groups = [...work.groups].map(async (groupId) => {
      try {
        const record = await client.groups.find(groupId);
        this.groupEntries.set(groupId, entryOf(client.groups.view(record), record));
      } catch {
        // Not on this device (groups are never deleted, so it never was): nothing to show.
      }
    });
    const conversations = [...work.conversations].map(async (conversation) => {
      try {
        const [last] = await client.history(conversation, { limit: 1 });
        if (!last) {
          this.summaries.delete(conversation);
          return;
        }
        const [unread, state] = await Promise.all([this.unreadSource.listUnread(conversation), client.requestState(conversation)]);
        this.summaries.set(conversation, { conversation, lastMessage: last, unread: unread.length, state });
      } catch {
        // Not readable now: its entry stays as it was until its next event.
      }
    });
    const [contactList] = await Promise.all([contacts?.catch(() => undefined), ...groups, ...conversations]);
    this.update({
      ...(contactList ? { contacts: new Map(contactList.map((c) => [c.accountId, c])) } : {}),
      ...(work.groups.size > 0 ? this.groupParts() : {}),
      // A group's entry lists it before anyone writes in it: the listing follows the groups too.
      ...(work.conversations.size > 0 || work.groups.size > 0 ? { conversations: this.listing() } : {}),
    });
  }

  private groupParts(): Pick<MessengerSnapshot, 'groups' | 'addedBy'> {
    const entries = [...this.groupEntries];
    return {
      groups: new Map(entries.map(([groupId, g]) => [groupId, g.view])),
      addedBy: new Map(entries.flatMap(([groupId, g]) => (g.addedBy === undefined ? [] : [[groupId, g.addedBy] as const]))),
    };
  }

  /** The conversations with messages, and the groups nobody has written in yet (listed by when they were made or joined). */
  private listing(): ListedConversation[] {
    const quiet = [...this.groupEntries]
      .filter(([groupId, g]) => g.view.active && !this.summaries.has(groupId))
      .map(([groupId, g]) => ({ listed: { conversation: groupId, lastMessage: undefined, unread: 0, state: g.request ? 'request' : 'accepted' } as const, at: g.createdAt }));
    const written = [...this.summaries.values()].map((s) => ({ listed: s, at: s.lastMessage.timestamp }));
    return [...written, ...quiet].sort((a, b) => b.at - a.at).map((c) => c.listed);
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

function entryOf(view: GroupView, record: { readonly createdAt: number; readonly request?: boolean; readonly addedBy?: string }): GroupEntry {
  return { view, createdAt: record.createdAt, request: record.request === true, addedBy: record.addedBy };
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
