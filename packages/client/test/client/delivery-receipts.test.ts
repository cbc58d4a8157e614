/**
 * Delivery receipts with their delay (outbox/delivery-receipts.ts), through the real server: batched per author and
 * sent after a random time, kept over a restart, and not sent at all when turned off (read receipts still are).
 * Bob's sealed sends to Alice are counted at his HttpApi: every receipt is one.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '../../src/client.js';
import { SqliteClientStore } from '../../src/storage/sqlite/sqlite-store.js';
import { nodeConnector } from '../../src/transport/node-connector.js';
import { crypto, profileDir, registerClient, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();
const DELAY = { minMs: 1_500, maxMs: 2_000 };

/** A client whose delivery receipts wait DELAY, with its sealed sends counted per recipient. */
async function delayed(dir: string, existing?: boolean): Promise<{ client: Client; sends: string[] }> {
  const store = SqliteClientStore.open(join(dir, 'samizdat.db'));
  const options = { store, crypto, connector: nodeConnector(), receiptDelay: DELAY };
  const client = existing ? await Client.open(options) : await Client.register({ ...options, serverUrl: env.server().url, username: env.uniqueName('bob') });
  const sends: string[] = [];
  const original = client.api.sendSealedMessages.bind(client.api);
  client.api.sendSealedMessages = async (accountId, accessKey, messages) => {
    sends.push(accountId);
    return original(accountId, accessKey, messages);
  };
  return { client, sends };
}

async function statuses(alice: TestClient, bob: Client): Promise<string[]> {
  return (await alice.client.history(bob.accountId)).filter((m) => m.kind === 'message').map((m) => m.status);
}

describe('delivery receipts', () => {
  it('go in one receipt per author after the delay, for everything that arrived meanwhile', async () => {
    const alice = env.keep(await registerClient(env.server().url, env.uniqueName('alice')));
    const dir = profileDir();
    const bob = await delayed(dir);
    try {
      for (const text of ['one', 'two', 'three']) await alice.client.sendText(bob.client.accountId, text);
      await alice.client.start();
      await bob.client.start();
      await bob.client.whenQueueEmpty();
      expect(await statuses(alice, bob.client)).toEqual(['sent', 'sent', 'sent']);
      await waitFor(async () => (await statuses(alice, bob.client)).every((s) => s === 'delivered'), 'delivered', 20_000);
      expect(bob.sends.filter((to) => to === alice.client.accountId), 'one receipt for the three').toHaveLength(1);
    } finally {
      await bob.client.close();
    }
  });

  it('wait in the store over a restart, and go after the next connection', async () => {
    const alice = env.keep(await registerClient(env.server().url, env.uniqueName('alice')));
    const dir = profileDir();
    const first = await delayed(dir);
    await alice.client.sendText(first.client.accountId, 'before the restart');
    await first.client.start();
    await first.client.whenQueueEmpty();
    await first.client.close(); // Before the receipt's time: nothing sent yet.
    expect(first.sends).toEqual([]);
    const again = await delayed(dir, true);
    try {
      await again.client.start();
      await alice.client.start();
      await waitFor(async () => (await statuses(alice, again.client))[0] === 'delivered', 'delivered after the restart', 20_000);
      expect(again.sends.filter((to) => to === alice.client.accountId)).toHaveLength(1);
    } finally {
      await again.client.close();
    }
  });

  it('are not sent when turned off; read receipts still are', async () => {
    const alice = env.keep(await registerClient(env.server().url, env.uniqueName('alice')));
    const dir = profileDir();
    const bob = await delayed(dir);
    try {
      expect(await bob.client.deliveryReceipts()).toBe(true);
      await bob.client.setDeliveryReceipts(false);
      expect(await bob.client.deliveryReceipts()).toBe(false);
      await alice.client.sendText(bob.client.accountId, 'no receipt for this');
      await alice.client.start();
      await bob.client.start();
      await bob.client.whenQueueEmpty();
      // Past the longest delay: had a receipt been due, it would have gone.
      await new Promise((r) => setTimeout(r, DELAY.maxMs + 500));
      expect(bob.sends).toEqual([]);
      expect(await statuses(alice, bob.client)).toEqual(['sent']);
      await bob.client.acceptRequest(alice.client.accountId);
      await bob.client.markRead(alice.client.accountId);
      await waitFor(async () => (await statuses(alice, bob.client))[0] === 'read', 'read');
      await expect(bob.client.setDeliveryReceipts('no' as unknown as boolean)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await bob.client.close();
    }
  });
});
