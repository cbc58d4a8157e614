/**
 * The account's sealed-sender key on the server (sealed/sealed-sender-key.ts), through the real server: published in
 * the upkeep after connecting, verifiable against the account's identity by anyone who looks it up, the same from
 * every device of the account, and put once per device.
 */
import { decodeIdentityKey, verifySealedSenderKey } from '@samizdat/protocol';
import { describe, expect, it } from 'vitest';
import { crypto, linkClient, onlinePerson, useServer, waitFor } from './helpers.js';

const env = useServer();

describe("the account's sealed-sender key", () => {
  it('is published after connecting, signed by the identity, once per device, and the same from a linked device', async () => {
    const alice = await onlinePerson(env, 'alice');
    const bob = await onlinePerson(env, 'bob');
    const url = env.server().url;
    // Bob looks Alice up: the answer carries her key, which verifies against her identity key.
    const lookup = () => bob.client.api.getAccount(alice.client.accountId);
    const found = await waitFor(async () => {
      const account = await lookup();
      return account.sealedSenderKey ? account : undefined;
    }, 'the key is published');
    if (!found) throw new Error('unreachable: waitFor returns a found account');
    const { identityKey, sealedSenderKey } = found;
    const publicKey = await verifySealedSenderKey(crypto, decodeIdentityKey(identityKey), sealedSenderKey ?? new Uint8Array());
    expect(publicKey).toHaveLength(1216);

    // Once per device: a second upkeep asks nothing of the server.
    const puts: string[] = [];
    const original = alice.client.api.putSealedSenderKey.bind(alice.client.api);
    alice.client.api.putSealedSenderKey = async (bytes) => {
      puts.push('put');
      return original(bytes);
    };
    await alice.client.publishSealedSenderKey();
    expect(puts).toEqual([]);

    // A linked device derives the same key from the identity it was given.
    const laptop = env.keep(await linkClient(url, alice.client));
    await laptop.client.start();
    await laptop.client.publishSealedSenderKey();
    expect(Buffer.from((await lookup()).sealedSenderKey ?? []).equals(Buffer.from(sealedSenderKey ?? []))).toBe(true);
    expect(Buffer.from((await bob.client.api.lookupUsername(alice.username))?.sealedSenderKey ?? []).equals(Buffer.from(sealedSenderKey ?? []))).toBe(true);
  });
});
