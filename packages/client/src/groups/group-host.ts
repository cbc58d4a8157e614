/**
 * What a GroupManager needs from the client that owns it: the store and transport, the content interpreter
 * (inbox/interpret.ts, the same one 1:1 messages go through). Group messages go out sealed over HTTP
 * (HttpApi.sendSealedGroupMessage), never on the authenticated delivery socket.
 */
import type { CryptoProvider, IdentityKeyPair } from '@samizdat/protocol';
import type { Content } from '../content/content.js';
import type { ClientEvents } from '../events.js';
import type { Effects, InterpretTarget } from '../inbox/interpret.js';
import type { AccountRecord, ClientStore } from '../storage/store.js';
import type { HttpApi } from '../transport/http-api.js';
import type { Emitter } from '../util/emitter.js';
import type { SerialQueue } from '../util/serial-queue.js';

export interface GroupHost {
  readonly store: ClientStore;
  readonly api: HttpApi;
  readonly crypto: CryptoProvider;
  readonly queue: SerialQueue;
  readonly identity: IdentityKeyPair;
  /** Where stored messages are announced (the client). */
  readonly events: Emitter<ClientEvents>;
  account(): AccountRecord;
  now(): number;
  /** Account ids of `peers` (usernames or account ids), resolving unknown ones through the server. */
  accountsOf(peers: readonly string[]): Promise<string[]>;
  /** What a content means for a conversation (inbox/interpret.ts over this device's store); stored by the caller. */
  interpret(target: InterpretTarget, c: Content): Promise<Effects>;
  /** Whether the user talks with an account, holds it as a message request, or blocked it (contacts/requests.ts). */
  stateOf(accountId: string): Promise<'accepted' | 'request' | 'blocked'>;
  /** The account's profile key, which group messages carry to the members (docs/protocol.md "Profiles"). */
  profileKey(): Promise<Uint8Array>;
  /** When our encrypted profile last changed (announced with the key), if it was set on this device. */
  profileUpdated(): Promise<number | undefined>;
  /** Fetches a member's encrypted profile with the key they sent (contacts/profiles.ts). */
  fetchProfile(accountId: string): Promise<void>;
  /** Stores the username a member claims once the server confirms it (Client.learnUsername). */
  learnUsername(accountId: string, username: string): Promise<void>;
}
