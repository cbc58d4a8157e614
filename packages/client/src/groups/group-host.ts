/** What a GroupManager needs from the client that owns it (the store, the transport, the content interpreter). */
import type { CryptoProvider, IdentityKeyPair } from '@samizdat/protocol';
import type { Content } from '../content/content.js';
import type { AccountRecord, ClientStore, GroupRecord, MessageRecord, StoreTx } from '../storage/store.js';
import type { HttpApi } from '../transport/http-api.js';
import type { SerialQueue } from '../util/serial-queue.js';

export interface GroupHost {
  readonly store: ClientStore;
  readonly api: HttpApi;
  readonly crypto: CryptoProvider;
  readonly queue: SerialQueue;
  readonly identity: IdentityKeyPair;
  account(): AccountRecord;
  now(): number;
  /** Account ids of `peers` (usernames or account ids), resolving unknown ones through the server. */
  accountsOf(peers: readonly string[]): Promise<string[]>;
  /** What a content means for a conversation (Client.interpret); stored by the caller. */
  interpret(target: { conversation: string; author: string; authorDevice: number; group: GroupRecord | undefined }, c: Content): Promise<GroupEffects>;
  emitMessage(m: MessageRecord): void;
  /** Whether the user talks with an account, holds it as a message request, or blocked it (contacts/requests.ts). */
  stateOf(accountId: string): Promise<'accepted' | 'request' | 'blocked'>;
  /** Stores the username a member claims once the server confirms it (Client.learnUsername). */
  learnUsername(accountId: string, username: string): Promise<void>;
  /**
   * Hands a GroupMessage envelope to the server for every other member device: over the delivery socket while it is
   * open, else over HTTP (Client.postGroupMessage). Fails as HttpApi.sendGroupMessage does.
   */
  postGroupMessage(groupId: string, envelope: Uint8Array): Promise<void>;
}

/** The part of Client's Effects the group manager uses. */
export interface GroupEffects {
  readonly groupWrites: GroupRecord[];
  readonly writes: MessageRecord[];
  readonly created: MessageRecord[];
  stage(tx: StoreTx): void;
  emit(): void;
}
