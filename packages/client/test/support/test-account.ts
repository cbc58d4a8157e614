/** This device's account for the service tests on the in-memory store: a real identity, fixed ids. */
import { encodeIdentityKeyPair, generateIdentityKeyPair } from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair } from '@samizdat/protocol';
import type { AccountRecord } from '../../src/storage/store.js';

export async function testAccount(
  crypto: CryptoProvider,
  fields: { readonly accountId: string; readonly deviceId: number; readonly createdAt: number; readonly username?: string },
): Promise<{ identity: IdentityKeyPair; account: AccountRecord }> {
  const identity = await generateIdentityKeyPair(crypto);
  const account: AccountRecord = {
    serverUrl: 'https://samizdat.example',
    accountId: fields.accountId,
    deviceId: fields.deviceId,
    password: 'c2VjcmV0',
    registrationId: 4242,
    ...(fields.username !== undefined ? { username: fields.username } : {}),
    identityKeyPair: encodeIdentityKeyPair(identity),
    createdAt: fields.createdAt,
  };
  return { identity, account };
}

/** What `promise` rejects with; throws when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but it resolved');
}
