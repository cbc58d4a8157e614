/**
 * This browser's profile: one IndexedDB database holds the account, its keys, sessions and history (the SDK's
 * IndexedDbClientStore). Crypto is WebCrypto plus @noble (WebCryptoProvider); the transport is the page's own
 * fetch and WebSocket, to the server that served the page.
 */
import { Client, IndexedDbClientStore, browserConnector } from '@samizdat/client';
import type { ClientOptions } from '@samizdat/client';
import { WebCryptoProvider } from '@samizdat/protocol';

/** The IndexedDB database of this origin's profile. */
export const DATABASE_NAME = 'samizdat';

export async function openProfile(): Promise<ClientOptions> {
  const store = await IndexedDbClientStore.open(DATABASE_NAME);
  return { store, crypto: new WebCryptoProvider(), connector: browserConnector() };
}

/** The client of the account this browser holds, or undefined when it holds none yet. */
export async function openAccount(options: ClientOptions): Promise<Client | undefined> {
  if (!(await options.store.getAccount())) return undefined;
  return Client.open(options);
}

/** The server is the origin that served this page: the app and the API are one deployment. */
export function serverUrl(): string {
  return location.origin;
}

/** Deletes this browser's profile (keys, sessions, history). The store must be closed first. */
export function eraseProfile(): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DATABASE_NAME);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error ?? new Error('the browser refused to delete the profile'));
  });
}
