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

/**
 * Creates an account on the page's server; this browser becomes its first device. Its MLS key packages are
 * published at once, so that others can add it to groups right away (as the CLI's register and link do).
 */
export async function registerAccount(options: ClientOptions, username: string): Promise<Client> {
  const client = await Client.register({ ...options, serverUrl: serverUrl(), username });
  await publishGroupKeys(client);
  return client;
}

/**
 * Links this browser to an account another device holds: `onCode` gets the one-use code to show (that device scans
 * or types it); resolves once the account's keys arrived. Aborting closes what was opened.
 */
export async function linkAccount(options: ClientOptions, onCode: (code: string) => void, signal: AbortSignal): Promise<Client> {
  const client = await Client.link({ ...options, serverUrl: serverUrl(), onCode, signal });
  if (signal.aborted) {
    await client.close();
    throw signal.reason;
  }
  await publishGroupKeys(client);
  return client;
}

/** Failing is not fatal: the client's upkeep publishes them once it is connected. */
async function publishGroupKeys(client: Client): Promise<void> {
  await client.groups.maintainKeyPackages().catch(() => undefined);
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
