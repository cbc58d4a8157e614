/**
 * How the Client sends 1:1 and group messages: sealed 1:1 sends over HTTP without credentials; identified ones (and
 * group messages) over the open delivery socket (SEND and GROUP_SEND frames), over HTTP when it is not receiving or
 * when the socket could not confirm a send. Real server, real sockets; HTTP requests are observed at the connector.
 * The identified-path tests make the recipient take sealed envelopes from contacts only (the sender has no profile
 * key of theirs), as a stranger's first message goes.
 */
import { describe, expect, it } from 'vitest';
import { FrameType } from '@samizdat/protocol';
import type { Connector } from '../../src/transport/connector.js';
import { bodies, interceptedConnector, linkClient, registerClient, sync, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

/**
 * A node connector that records its HTTP requests ("PUT /v1/messages/…") and can lose the next SEND_OK or
 * GROUP_SEND_OK.
 */
/**
 * `text` reached `t` twice (two copies stored by the server) and shows once in `conversation`: the second copy was
 * recognised as a duplicate, nothing undecryptable, and both were acknowledged (nothing comes back on reconnect).
 */
async function expectShownOnce(t: TestClient, conversation: string, text: string): Promise<void> {
  expect((await t.client.api.fetchMessages()).messages).toHaveLength(2);
  await sync(t);
  expect(await bodies(t.client, conversation)).toEqual([text]);
  expect(t.events.message.filter(([m]) => m.kind === 'message')).toHaveLength(1);
  expect(t.events.undecryptable).toHaveLength(0);
  await t.client.stop();
  t.events.message.length = 0;
  await sync(t);
  expect(t.events.message).toHaveLength(0);
}

function observedConnector(): Connector & {
  readonly requests: string[];
  readonly authorized: boolean[];
  loseNextSendOk(): void;
  readonly lost: number;
} {
  const requests: string[] = [];
  const authorized: boolean[] = [];
  let loseNext: number | undefined;
  let lost = 0;
  const connector = interceptedConnector({
    fetch: (url, init) => {
      requests.push(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
      authorized.push(Object.keys(init.headers ?? {}).some((h) => h.toLowerCase() === 'authorization'));
    },
    receive(data, ws) {
      if (loseNext === undefined || typeof data === 'string' || data[0] !== loseNext) return true;
      // The answer is lost with the connection: the message is stored, but the sender cannot know it.
      loseNext = undefined;
      lost++;
      ws.close(1000, 'lost');
      return false;
    },
  });
  return {
    ...connector,
    requests,
    authorized,
    get lost() {
      return lost;
    },
    loseNextSendOk: () => (loseNext = FrameType.SendOk),
  };
}

const messageSends = (requests: readonly string[]): string[] => requests.filter((r) => r.startsWith('PUT /v1/messages/'));
const groupSends = (requests: readonly string[]): string[] => requests.filter((r) => /^PUT \/v1\/groups\/[0-9a-f]{64}\/messages$/.test(r));

async function person(base: string, connector?: Connector): Promise<TestClient & { username: string }> {
  const username = env.uniqueName(base);
  const t = env.keep(await registerClient(env.server().url, username, connector));
  return { ...t, username };
}

/** A person who takes sealed envelopes from contacts only: a stranger writes to them identified. */
async function contactsOnly(base: string): Promise<TestClient & { username: string }> {
  const t = await person(base);
  await t.client.setSealedSenderSettings({ mode: 'contacts' });
  return t;
}

/** A person receiving, with key packages on the server so that groups can add them. */
async function member(base: string, connector?: Connector): Promise<TestClient & { username: string }> {
  const t = await person(base, connector);
  await sync(t);
  await t.client.groups.maintainKeyPackages();
  return t;
}

/** Creates a group of `owner` and `others`, and waits until every one of them has joined and learned its name. */
async function groupOf(owner: TestClient, others: readonly (TestClient & { username: string })[]): Promise<string> {
  const { groupId } = await owner.client.groups.create('Socket club', others.map((o) => o.username));
  for (const o of others) {
    await waitFor(async () => (await o.client.groups.list()).some((g) => g.groupId === groupId && g.name === 'Socket club'), 'every member joins');
  }
  return groupId;
}

describe('Client sending', () => {
  it('sends sealed 1:1 messages over HTTP with no credentials (PUT /v1/sealed/messages), and the recipient gets them', async () => {
    const connector = observedConnector();
    const alice = await person('alice', connector);
    const bob = await person('bob');
    await sync(alice);
    const sent = await alice.client.sendText(bob.username, 'sealed');
    expect(sent).toMatchObject({ status: 'sent', sealed: true });
    const sealedSends = connector.requests.flatMap((r, i) => (r === `PUT /v1/sealed/messages/${bob.client.accountId}` ? [connector.authorized[i]] : []));
    expect(sealedSends, 'one request, without an Authorization header').toEqual([false]);
    expect(messageSends(connector.requests), 'and no identified send to bob').toEqual([]);
    await sync(bob);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['sealed']);
  });

  it('sends identified messages over the open delivery socket, with no HTTP request per message, and the recipient gets them', async () => {
    const connector = observedConnector();
    const alice = await person('alice', connector);
    const bob = await contactsOnly('bob');
    await sync(alice);
    const sent = await alice.client.sendText(bob.username, 'over the socket');
    expect(sent.status).toBe('sent');
    await alice.client.sendText(bob.username, 'and again');
    expect(messageSends(connector.requests)).toEqual([]);
    await sync(bob);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['over the socket', 'and again']);
    // Bob's delivery receipt comes back over the same way.
    await waitFor(async () => (await alice.client.history(bob.client.accountId)).every((m) => m.status === 'delivered'), 'delivery receipts');
  });

  it('repairs a device-list mismatch refused over the socket as over HTTP, and reaches the new device', async () => {
    const connector = observedConnector();
    const alice = await person('alice', connector);
    const bob = await contactsOnly('bob');
    await sync(alice);
    await alice.client.sendText(bob.username, 'before');
    const bob2 = env.keep(await linkClient(env.server().url, bob.client));
    await alice.client.sendText(bob.username, 'after link'); // SEND_ERROR DEVICE_LIST_MISMATCH → bundle fetched → resent
    expect(messageSends(connector.requests)).toEqual([]);
    expect(connector.requests.filter((r) => r === `GET /v1/keys/${bob.client.accountId}/${bob2.client.deviceId}`)).toHaveLength(1);
    await sync(bob);
    await sync(bob2);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['before', 'after link']);
    expect(await bodies(bob2.client, alice.client.accountId)).toEqual(['after link']);
  });

  it('sends identified messages over HTTP when it is not receiving', async () => {
    const connector = observedConnector();
    const alice = await person('alice', connector);
    const bob = await contactsOnly('bob');
    await alice.client.sendText(bob.username, 'over HTTP');
    // The message, then the sync copy to her own account (empty: she has no other device, which the server checks).
    expect(messageSends(connector.requests)).toEqual([`PUT /v1/messages/${bob.client.accountId}`, `PUT /v1/messages/${alice.client.accountId}`]);
    await sync(bob);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['over HTTP']);
  });

  it('sends again over HTTP when the socket loses the answer, and the recipient shows the message once', async () => {
    const connector = observedConnector();
    const alice = await person('alice', connector);
    const bob = await contactsOnly('bob');
    await sync(alice);
    connector.loseNextSendOk();
    // The first message to bob is an initial (prekey) message: its second copy must be recognized all the same.
    const sent = await alice.client.sendText(bob.username, 'stored twice, shown once');
    expect(sent.status).toBe('sent');
    expect(connector.lost).toBe(1);
    // (The empty sync copy to alice's own account may go either way, depending on when the socket is back.)
    const toBob = () => messageSends(connector.requests).filter((r) => r === `PUT /v1/messages/${bob.client.accountId}`);
    expect(toBob()).toEqual([`PUT /v1/messages/${bob.client.accountId}`]);
    await expectShownOnce(bob, alice.client.accountId, 'stored twice, shown once');

    // The socket came back, and the next message goes over it again.
    await alice.client.whenQueueEmpty();
    await alice.client.sendText(bob.username, 'next');
    expect(toBob()).toHaveLength(1);
  });

  it('sends group messages sealed over HTTP, with no credentials, whether the socket is open or not, to every member', async () => {
    const connector = observedConnector();
    const carolConnector = observedConnector();
    const alice = await member('alice', connector);
    const bob = await member('bob');
    const carol = await member('carol', carolConnector);
    const groupId = await groupOf(alice, [bob, carol]);
    const sealedPath = `PUT /v1/sealed/groups/${groupId}/messages`;
    const before = connector.requests.length;
    await alice.client.sendText(groupId, 'hello group');
    await alice.client.sendText(groupId, 'and again');
    // Both messages sealed (the group's settings, sent by create, went the same way), none identified.
    const sent = connector.requests.map((r, i) => [r, connector.authorized[i]] as const).slice(before);
    expect(sent.filter(([r]) => r === sealedPath)).toEqual([
      [sealedPath, false],
      [sealedPath, false],
    ]);
    expect(groupSends(connector.requests)).toEqual([]);
    for (const t of [bob, carol]) {
      await waitFor(async () => (await bodies(t.client, groupId)).length === 2, 'both messages on every member');
      expect(await bodies(t.client, groupId)).toEqual(['hello group', 'and again']);
    }
    // A member who is not receiving sends the same way.
    await carol.client.stop();
    await carol.client.sendText(groupId, 'from afar');
    expect(carolConnector.requests.filter((r) => r === sealedPath).length).toBeGreaterThan(0);
    expect(groupSends(carolConnector.requests)).toEqual([]);
    for (const t of [alice, bob]) await waitFor(async () => (await bodies(t.client, groupId)).includes('from afar'), 'the message sent sealed');
    await alice.client.whenQueueEmpty();
    expect(await bodies(alice.client, groupId)).toEqual(['hello group', 'and again', 'from afar']);
  });
});
