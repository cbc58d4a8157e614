/**
 * Two server nodes (two buildApp instances on separate ports) sharing one PostgreSQL schema and one NATS subject
 * prefix: the scale-out deployment of docs/architecture.md "Storage and scale", on real PostgreSQL and NATS.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_NATS_URL, TEST_POSTGRES_URL, apiOk, newPostgresSchema, registerDevice, linkDevice, queuedIds, sendMessage, startServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { FrameClient, connectDevice } from '../helpers/ws-client.js';

let nodeA: TestServer;
let nodeB: TestServer;
const schema = newPostgresSchema();
const clients: FrameClient[] = [];

beforeAll(async () => {
  const shared = {
    databaseUrl: TEST_POSTGRES_URL,
    postgresSchema: schema.name,
    natsUrl: TEST_NATS_URL,
    natsSubjectPrefix: `test.${randomBytes(6).toString('hex')}`,
    usernameKey: new Uint8Array(randomBytes(32)),
  };
  nodeA = await startServer(shared);
  nodeB = await startServer(shared);
});

afterAll(async () => {
  for (const client of clients) client.ws.terminate();
  await nodeA?.close();
  await nodeB?.close();
  await schema.drop();
});

async function connect(node: TestServer, device: Parameters<typeof connectDevice>[1]): Promise<FrameClient> {
  const client = await connectDevice(node, device);
  clients.push(client);
  return client;
}

describe('two nodes sharing PostgreSQL and NATS', () => {
  it('wakes a socket on node B when a message is sent through node A', async () => {
    const alice = await registerDevice(nodeA);
    const bob = await registerDevice(nodeA);
    const client = await connect(nodeB, bob);
    await client.nextOf('queue-empty');
    const [id] = await sendMessage(nodeA, alice, [bob]);
    const frame = await client.nextOf('envelope');
    expect(frame.id).toBe(id);
    expect(frame.source).toEqual({ accountId: alice.accountId, deviceId: 1 });
    client.ack([frame.id]);
    await expect.poll(() => queuedIds(nodeA, bob)).toEqual([]);
  });

  it('replaces a connection on node A with a newer one on node B (4002); the new one gets the queue', async () => {
    const alice = await registerDevice(nodeB);
    const bob = await registerDevice(nodeB);
    const ids = [...(await sendMessage(nodeA, alice, [bob])), ...(await sendMessage(nodeB, alice, [bob]))];
    const onA = await connect(nodeA, bob);
    expect((await onA.take('envelope', 2)).map((f) => f.id)).toEqual(ids);

    const onB = await connect(nodeB, bob);
    expect(await onA.waitClosed()).toEqual({ code: 4002, reason: 'replaced' });
    expect((await onB.take('envelope', 2)).map((f) => f.id)).toEqual(ids);
    await onB.nextOf('queue-empty');
    // And back: B's connection is the older one now.
    const again = await connect(nodeA, bob);
    expect((await onB.waitClosed()).code).toBe(4002);
    await again.take('envelope', 2);
    expect(again.ws.readyState).toBe(again.ws.OPEN);
  });

  it('closes a removed device’s socket on the other node (4003)', async () => {
    const bob1 = await registerDevice(nodeA);
    const bob2 = await linkDevice(nodeB, bob1);
    const client = await connect(nodeB, bob2);
    await client.nextOf('queue-empty');
    await apiOk(nodeA, 'DELETE', `/v1/devices/${bob2.deviceId}`, { auth: bob1 });
    expect((await client.waitClosed()).code).toBe(4003);
  });

  it('relays a provisioning message PUT on node A to a provisioning socket on node B', async () => {
    const existing = await registerDevice(nodeA);
    const client = await FrameClient.connect(`${nodeB.wsUrl}/v1/provisioning/websocket`);
    clients.push(client);
    const { address } = await client.nextOf('provisioning-address');
    await apiOk(nodeA, 'PUT', `/v1/provisioning/${address}`, { auth: existing, body: { body: Buffer.from('sealed').toString('base64') } });
    expect(Buffer.from((await client.nextOf('provisioning-message')).body).toString()).toBe('sealed');
    expect((await client.waitClosed()).code).toBe(1000);
  });
});
