import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { encodeFrame, FrameType } from '@samizdat/protocol';
import {
  METRICS_AUTH,
  api,
  apiOk,
  linkDevice,
  loginOf,
  queuedIds,
  registerDevice,
  sendMessage,
  startServer,
  testEnvelope,
  expectEventually,
} from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { DEFAULT_LIMITS } from '../../src/config.js';
import { FrameClient, connectDevice, refusedUpgrade } from '../helpers/ws-client.js';

let server: TestServer;
/** Sockets to close after each describe, so a failing test does not leave them open. */
const clients: FrameClient[] = [];

async function connect(device: TestDevice, target: TestServer = server): Promise<FrameClient> {
  const client = await connectDevice(target, device);
  clients.push(client);
  return client;
}

async function open(url: string, options: Parameters<typeof FrameClient.connect>[1] = {}): Promise<FrameClient> {
  const client = await FrameClient.connect(url, options);
  clients.push(client);
  return client;
}

/** Sends `count` messages one by one from `sender` to `recipient`'s single device; returns ids and envelopes. */
async function sendMany(sender: TestDevice, recipient: TestDevice, count: number, target: TestServer = server) {
  const sent: { id: bigint; envelope: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const envelope = testEnvelope(Uint8Array.of(i));
    const [id] = await sendMessage(target, sender, [recipient], () => envelope);
    sent.push({ id: id as bigint, envelope });
  }
  return sent;
}

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  for (const client of clients) client.ws.terminate();
  await server.close();
  for (const client of clients) expect(client.undecodable).toEqual([]);
});

describe('delivery over /v1/websocket', () => {
  it('drains the queue in id order on connect, then sends QUEUE_EMPTY', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const sent = await sendMany(alice, bob, 5);

    const client = await connect(bob);
    const frames = await client.take('envelope', 5);
    expect(frames.map((f) => f.id)).toEqual(sent.map((s) => s.id));
    expect(frames.map((f) => [...f.envelope])).toEqual(sent.map((s) => [...s.envelope]));
    for (const frame of frames) {
      expect(frame.source).toEqual({ accountId: alice.accountId, deviceId: alice.deviceId });
      expect(frame.receivedAt).toBeGreaterThan(Date.now() - 60_000);
    }
    await client.nextOf('queue-empty');
    expect(await client.quiet(200)).toEqual([]);
  });

  it('sends QUEUE_EMPTY at once for an empty queue, then pushes a message sent after connecting', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const client = await connect(bob);
    await client.nextOf('queue-empty');

    const [id] = await sendMessage(server, alice, [bob]);
    const pushed = await client.nextOf('envelope');
    expect(pushed.id).toBe(id);
    const more = await sendMany(alice, bob, 3);
    expect((await client.take('envelope', 3)).map((f) => f.id)).toEqual(more.map((m) => m.id));
    expect(await client.quiet(200)).toEqual([]);
  });

  it('deletes an envelope only when it is acknowledged', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const sent = await sendMany(alice, bob, 3);
    const client = await connect(bob);
    const frames = await client.take('envelope', 3);
    await client.nextOf('queue-empty');

    expect(await queuedIds(server, bob)).toEqual(sent.map((s) => s.id));
    client.ack([frames[0]!.id, frames[2]!.id]);
    await expectEventually(async () => expect(await queuedIds(server, bob)).toEqual([sent[1]!.id]));
    expect(await client.quiet(200)).toEqual([]);
  });

  it('redelivers unacknowledged envelopes on reconnect, and never acknowledged ones', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const sent = await sendMany(alice, bob, 4);
    const first = await connect(bob);
    const frames = await first.take('envelope', 4);
    await first.nextOf('queue-empty');
    first.ack([frames[0]!.id, frames[1]!.id]);
    await expectEventually(async () => expect(await queuedIds(server, bob)).toHaveLength(2));
    await first.close();

    const second = await connect(bob);
    const again = await second.take('envelope', 2);
    expect(again.map((f) => f.id)).toEqual([sent[2]!.id, sent[3]!.id]);
    await second.nextOf('queue-empty');
    expect(await second.quiet(200)).toEqual([]);
  });

  it('answers an ack of another device’s envelope with UNKNOWN_ENVELOPE_ACK and deletes nothing', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const carol = await registerDevice(server);
    const [carolsId] = await sendMessage(server, alice, [carol]);
    const [bobsId] = await sendMessage(server, alice, [bob]);

    const bobClient = await connect(bob);
    expect((await bobClient.nextOf('envelope')).id).toBe(bobsId);
    await bobClient.nextOf('queue-empty');
    bobClient.ack([carolsId!]);
    const error = await bobClient.nextOf('error');
    expect(error.code).toBe('UNKNOWN_ENVELOPE_ACK');
    // A mixed batch: the own id is acknowledged, the foreign one reported again, and nothing of Carol's goes.
    bobClient.ack([bobsId!, carolsId!]);
    expect((await bobClient.nextOf('error')).code).toBe('UNKNOWN_ENVELOPE_ACK');
    expect(await queuedIds(server, bob)).toEqual([]);

    expect(await queuedIds(server, carol)).toEqual([carolsId]);
    const carolClient = await connect(carol);
    expect((await carolClient.nextOf('envelope')).id).toBe(carolsId);
    // Acknowledging twice is "unknown" the second time.
    carolClient.ack([carolsId!]);
    await expectEventually(async () => expect(await queuedIds(server, carol)).toEqual([]));
    carolClient.ack([carolsId!]);
    expect((await carolClient.nextOf('queue-empty')).kind).toBe('queue-empty');
    expect((await carolClient.nextOf('error')).code).toBe('UNKNOWN_ENVELOPE_ACK');
  });

  it('gives each device only its own copies', async () => {
    const alice = await registerDevice(server);
    const bob1 = await registerDevice(server);
    const bob2 = await linkDevice(server, bob1);
    const carol = await registerDevice(server);
    const ids = await sendMessage(server, alice, [bob1, bob2], (r) => testEnvelope(Uint8Array.of(r.deviceId)));
    await sendMessage(server, alice, [carol]);

    const c1 = await connect(bob1);
    const c2 = await connect(bob2);
    const e1 = await c1.nextOf('envelope');
    const e2 = await c2.nextOf('envelope');
    expect(e1.id).toBe(ids[0]);
    expect(e2.id).toBe(ids[1]);
    expect(e1.envelope).not.toEqual(e2.envelope);
    await c1.nextOf('queue-empty');
    await c2.nextOf('queue-empty');
    expect(await c1.quiet(200)).toEqual([]);
    expect(await c2.quiet(0)).toEqual([]);
    // bob1 cannot acknowledge bob2's copy either.
    c1.ack([e2.id]);
    expect((await c1.nextOf('error')).code).toBe('UNKNOWN_ENVELOPE_ACK');
    expect(await queuedIds(server, bob2)).toEqual([e2.id]);
  });

  it('replaces an older connection of the same device (4002); the new one gets the queue', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const sent = await sendMany(alice, bob, 2);
    const first = await connect(bob);
    await first.take('envelope', 2);
    await first.nextOf('queue-empty');

    const second = await connect(bob);
    expect(await first.waitClosed()).toEqual({ code: 4002, reason: 'replaced' });
    expect((await second.take('envelope', 2)).map((f) => f.id)).toEqual(sent.map((s) => s.id));
    await second.nextOf('queue-empty');
    const [live] = await sendMessage(server, alice, [bob]);
    expect((await second.nextOf('envelope')).id).toBe(live);
    expect(server.app.websockets.connectionCount).toBeGreaterThanOrEqual(1);
  });

  it('lets the connection authenticated last win, even when it was opened first', async () => {
    const bob = await registerDevice(server);
    const early = await open(`${server.wsUrl}/v1/websocket`);
    const header = await connect(bob);
    await header.nextOf('queue-empty');
    early.send({ kind: 'auth', login: loginOf(bob) });
    await early.nextOf('ready');
    expect((await header.waitClosed()).code).toBe(4002);
    expect(await early.quiet(200)).toEqual([{ kind: 'queue-empty' }]);
    expect(early.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('ignores an announcement of an older connection of the device, as a delayed bus message would be', async () => {
    const bob = await registerDevice(server);
    const client = await connect(bob);
    await client.nextOf('queue-empty');
    server.app.ctx.bus.publishConnected({ accountId: bob.accountId, deviceId: bob.deviceId }, '000000000001' + '0'.repeat(16));
    expect(await client.quiet(200)).toEqual([]);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    // An id that is not in the node format cannot be ordered: it replaces.
    server.app.ctx.bus.publishConnected({ accountId: bob.accountId, deviceId: bob.deviceId }, 'some-other-node');
    expect((await client.waitClosed()).code).toBe(4002);
  });

  it('closes the socket of a removed device with 4003', async () => {
    const bob1 = await registerDevice(server);
    const bob2 = await linkDevice(server, bob1);
    const client = await connect(bob2);
    await client.nextOf('queue-empty');
    await apiOk(server, 'DELETE', `/v1/devices/${bob2.deviceId}`, { auth: bob1 });
    expect((await client.waitClosed()).code).toBe(4003);

    // Deleting the account closes the sockets of its devices too.
    const other = await connect(bob1);
    await other.nextOf('queue-empty');
    await apiOk(server, 'DELETE', '/v1/accounts/me', { auth: bob1 });
    expect((await other.waitClosed()).code).toBe(4003);
  });

  it('counts connections and pushed envelopes in /metrics', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    await sendMessage(server, alice, [bob]);
    const before = metric(await metricsText(), 'samizdat_envelopes_pushed_total');
    const client = await connect(bob);
    const envelope = await client.nextOf('envelope');
    const text = await metricsText();
    expect(metric(text, 'samizdat_websocket_connections')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'samizdat_envelopes_pushed_total')).toBe(before + 1);
    const delivered = metric(text, 'samizdat_envelopes_delivered_total');
    client.ack([envelope.id]);
    await expectEventually(async () => expect(metric(await metricsText(), 'samizdat_envelopes_delivered_total')).toBe(delivered + 1));
    const open = metric(await metricsText(), 'samizdat_websocket_connections');
    await client.close();
    await expectEventually(async () => expect(metric(await metricsText(), 'samizdat_websocket_connections')).toBe(open - 1));
  });
});

describe('the delivery window', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startServer({ limits: { deliveryWindow: 4 } });
  });
  afterAll(async () => {
    await small.close();
  });

  it('keeps at most deliveryWindow envelopes unacknowledged and sends more as acks arrive', async () => {
    const alice = await registerDevice(small);
    const bob = await registerDevice(small);
    const sent = await sendMany(alice, bob, 10, small);
    const client = await connect(bob, small);

    const firstFour = await client.take('envelope', 4);
    expect(firstFour.map((f) => f.id)).toEqual(sent.slice(0, 4).map((s) => s.id));
    expect(await client.quiet(300)).toEqual([]);

    client.ack([firstFour[0]!.id, firstFour[1]!.id]);
    const nextTwo = await client.take('envelope', 2);
    expect(nextTwo.map((f) => f.id)).toEqual(sent.slice(4, 6).map((s) => s.id));
    expect(await client.quiet(300)).toEqual([]);

    // A live message waits behind the queue and the window as well.
    const [live] = await sendMessage(small, alice, [bob]);
    expect(await client.quiet(300)).toEqual([]);

    client.ack([firstFour[2]!.id, firstFour[3]!.id, ...nextTwo.map((f) => f.id)]);
    const rest = await client.take('envelope', 4);
    expect(rest.map((f) => f.id)).toEqual(sent.slice(6, 10).map((s) => s.id));
    client.ack(rest.map((f) => f.id));
    const tail = await client.next();
    // QUEUE_EMPTY may come before or after the live envelope, depending on when the wake-up was seen.
    const received = [tail, ...(await client.quiet(300))];
    expect(received.filter((f) => f.kind === 'envelope').map((f) => (f.kind === 'envelope' ? f.id : 0n))).toEqual([live]);
    expect(received.filter((f) => f.kind === 'queue-empty')).toHaveLength(1);
  });
});

describe('delivery under interleaving', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startServer({ limits: { deliveryWindow: 3 } });
  });
  afterAll(async () => {
    await small.close();
  });

  it('sends every envelope once per connection while acks, reads and new sends interleave', async () => {
    const alice = await registerDevice(small);
    const bob = await registerDevice(small);
    const queued = await sendMany(alice, bob, 20, small);
    const client = await connect(bob, small);
    const live = Promise.all(Array.from({ length: 20 }, () => sendMessage(small, alice, [bob])));
    const seen: bigint[] = [];
    while (seen.length < 40) {
      const frame = await client.next();
      if (frame.kind !== 'envelope') continue;
      seen.push(frame.id);
      client.ack([frame.id]);
    }
    const liveIds = (await live).flat();
    expect(new Set(seen).size).toBe(40);
    expect([...seen].sort((a, b) => (a < b ? -1 : 1))).toEqual([...queued.map((q) => q.id), ...liveIds].sort((a, b) => (a < b ? -1 : 1)));
    // The queue as it was at connect time came first, in order.
    expect(seen.slice(0, 20)).toEqual(queued.map((q) => q.id));
    await expectEventually(async () => expect(await queuedIds(small, bob)).toEqual([]));
    expect((await client.quiet(200)).filter((f) => f.kind !== 'queue-empty')).toEqual([]);
  });
});

describe('direct push of envelopes stored on this node', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startServer({ limits: { deliveryWindow: 3 } });
  });
  afterAll(async () => {
    await small.close();
  });

  /** A queue row stored behind the server's back, as another node would store it. */
  const storeDirectly = async (sender: TestDevice, recipient: TestDevice): Promise<bigint> => {
    const now = Date.now();
    const [id] = await small.app.ctx.repo.enqueue(
      [
        {
          accountId: recipient.accountId,
          deviceId: recipient.deviceId,
          sourceAccountId: sender.accountId,
          sourceDeviceId: sender.deviceId,
          envelope: testEnvelope(),
          receivedAt: now,
          expiresAt: now + 60_000,
        },
      ],
      1000,
    );
    return id as bigint;
  };

  it('pushes what a send stored without reading the queue, each envelope once, and redelivers the unacked', async () => {
    const alice = await registerDevice(small);
    const bob = await registerDevice(small);
    const client = await connect(bob, small);
    await client.nextOf('queue-empty');
    const fetchQueue = vi.spyOn(small.app.ctx.repo, 'fetchQueue');
    try {
      // Five sends against a window of three: two wait for acks, then go out without a read either.
      const sent = await sendMany(alice, bob, 5, small);
      const first = await client.take('envelope', 3);
      expect(first.map((f) => f.id)).toEqual(sent.slice(0, 3).map((s) => s.id));
      expect(first.map((f) => [...f.envelope])).toEqual(sent.slice(0, 3).map((s) => [...s.envelope]));
      expect(first[0]!.source).toEqual({ accountId: alice.accountId, deviceId: alice.deviceId });
      client.ack(first.map((f) => f.id));
      const rest = await client.take('envelope', 2);
      expect(rest.map((f) => f.id)).toEqual(sent.slice(3).map((s) => s.id));
      expect(await client.quiet(200)).toEqual([]);
      expect(fetchQueue).not.toHaveBeenCalled();
    } finally {
      fetchQueue.mockRestore();
    }
    // Unacknowledged envelopes stay queued and come again on the next connection.
    await client.close();
    const again = await connect(bob, small);
    const redelivered = await again.take('envelope', 2);
    expect(await queuedIds(small, bob)).toEqual(redelivered.map((f) => f.id));
    again.ack(redelivered.map((f) => f.id));
    await again.nextOf('queue-empty');
    expect(await again.quiet(200)).toEqual([]);
  });

  it('reads the queue on a wake-up without envelopes (another node stored them)', async () => {
    const alice = await registerDevice(small);
    const bob = await registerDevice(small);
    const client = await connect(bob, small);
    await client.nextOf('queue-empty');
    const id = await storeDirectly(alice, bob);
    small.app.ctx.bus.publishQueued({ accountId: bob.accountId, deviceId: bob.deviceId });
    expect((await client.nextOf('envelope')).id).toBe(id);
    expect(await client.quiet(200)).toEqual([]);
  });

  it('rescans when a wake-up carries an id at or below the cursor (committed out of id order)', async () => {
    const alice = await registerDevice(small);
    const bob = await registerDevice(small);
    const client = await connect(bob, small);
    await client.nextOf('queue-empty');
    const lower = await storeDirectly(alice, bob);
    const higher = await storeDirectly(alice, bob);
    const rowOf = async (id: bigint) =>
      (await small.app.ctx.repo.fetchQueue(bob.accountId, bob.deviceId, id - 1n, 1, Date.now()))[0]!;
    const bobRef = { accountId: bob.accountId, deviceId: bob.deviceId };
    // The higher id's wake-up arrives first (PostgreSQL can commit it first): it is pushed as it is.
    small.app.ctx.bus.publishQueued(bobRef, [await rowOf(higher)]);
    expect((await client.nextOf('envelope')).id).toBe(higher);
    // The lower one is below the cursor now: the connection reads the queue and sends only what it has not sent.
    small.app.ctx.bus.publishQueued(bobRef, [await rowOf(lower)]);
    expect((await client.nextOf('envelope')).id).toBe(lower);
    expect(await client.quiet(200)).toEqual([]);
  });
});

describe('authentication', () => {
  it('refuses an upgrade with wrong or malformed credentials with 401 before accepting it', async () => {
    const bob = await registerDevice(server);
    const url = `${server.wsUrl}/v1/websocket`;
    const wrong = { ...bob, password: 'A'.repeat(32) };
    const cases: Record<string, string>[] = [
      { authorization: `Basic ${Buffer.from(loginOf(wrong)).toString('base64')}` },
      { authorization: `Basic ${Buffer.from(loginOf({ ...bob, deviceId: 7 })).toString('base64')}` },
      { authorization: 'Basic !!!' },
      { authorization: 'Bearer abc' },
    ];
    for (const headers of cases) {
      const refused = await refusedUpgrade(url, headers);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });

  it('answers an unknown upgrade path with 404', async () => {
    const refused = await refusedUpgrade(`${server.wsUrl}/v1/nothing`);
    expect(refused.status).toBe(404);
    expect(refused.body).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('accepts an AUTH frame as the first frame instead of the header', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const [id] = await sendMessage(server, alice, [bob]);
    const client = await open(`${server.wsUrl}/v1/websocket`);
    client.send({ kind: 'auth', login: loginOf(bob) });
    await client.nextOf('ready');
    expect((await client.nextOf('envelope')).id).toBe(id);
    await client.nextOf('queue-empty');
  });

  it('closes with 4001 on a wrong AUTH frame, a malformed one, or any other first frame', async () => {
    const bob = await registerDevice(server);
    const url = `${server.wsUrl}/v1/websocket`;
    const attempts: ((c: FrameClient) => void)[] = [
      (c) => c.send({ kind: 'auth', login: loginOf({ ...bob, password: 'B'.repeat(40) }) }),
      (c) => c.send({ kind: 'auth', login: 'not a login' }),
      (c) => c.sendRaw(Uint8Array.of(FrameType.Auth, 40, 1)),
      (c) => c.send({ kind: 'ack', ids: [1n] }),
      (c) => c.sendRaw(loginOf(bob)),
    ];
    for (const attempt of attempts) {
      const client = await open(url);
      attempt(client);
      expect(await client.waitClosed()).toEqual({ code: 4001, reason: 'unauthorized' });
      expect(await client.quiet(0)).toEqual([]);
    }
  });

  it('closes with 4001 when no AUTH frame arrives in time', async () => {
    const quick = await startServer({ websocket: { authTimeoutMs: 200 } });
    try {
      const client = await FrameClient.connect(`${quick.wsUrl}/v1/websocket`);
      const started = Date.now();
      expect(await client.waitClosed()).toEqual({ code: 4001, reason: 'authentication timeout' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await quick.close();
    }
  });
});

describe('malformed input', () => {
  it('answers malformed frames with ERROR BAD_FRAME and keeps the connection and server working', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const client = await connect(bob);
    await client.nextOf('queue-empty');

    const bad: (Uint8Array | string)[] = [
      new Uint8Array(0),
      Uint8Array.of(0x7f),
      Uint8Array.of(FrameType.Ack),
      Uint8Array.of(FrameType.Ack, 2, 0, 0, 0),
      Uint8Array.of(FrameType.Ack, 0),
      new Uint8Array([...encodeFrame({ kind: 'ack', ids: [1n] }), 0]),
      encodeFrame({ kind: 'ready' }),
      'text frames are not part of the protocol',
    ];
    for (const frame of bad) {
      client.sendRaw(frame);
      expect((await client.nextOf('error')).code).toBe('BAD_FRAME');
    }
    client.send({ kind: 'auth', login: loginOf(bob) });
    expect((await client.nextOf('error')).code).toBe('UNEXPECTED_FRAME');

    const [id] = await sendMessage(server, alice, [bob]);
    expect((await client.nextOf('envelope')).id).toBe(id);
    client.ack([id!]);
    await expectEventually(async () => expect(await queuedIds(server, bob)).toEqual([]));
    expect(await client.quiet(100)).toEqual([]);
  });

  it('closes a socket that sends an oversized frame (1009) and keeps serving others', async () => {
    const bob = await registerDevice(server);
    const carol = await registerDevice(server);
    const big = await connect(bob);
    const other = await connect(carol);
    // The largest frame accepted is a SEND of the send body limit.
    big.sendRaw(new Uint8Array(DEFAULT_LIMITS.maxSendBodyBytes + 1));
    expect((await big.waitClosed()).code).toBe(1009);
    await other.nextOf('queue-empty');
    const health = await api(server, 'GET', '/health');
    expect(health.status).toBe(200);
    const again = await connect(bob);
    await again.nextOf('queue-empty');
  });
});

describe('keepalive', () => {
  it('terminates a connection that stops answering pings', async () => {
    const quick = await startServer({ websocket: { pingIntervalMs: 100 } });
    try {
      const bob = await registerDevice(quick);
      const live = await connectDevice(quick, bob);
      const deaf = await FrameClient.connect(`${quick.wsUrl}/v1/websocket`, { autoPong: false });
      expect((await deaf.waitClosed()).code).toBe(1006);
      // The one that answers survives several rounds.
      expect(await live.quiet(400)).toEqual([{ kind: 'queue-empty' }]);
      expect(live.ws.readyState).toBe(WebSocket.OPEN);
      live.ws.terminate();
    } finally {
      await quick.close();
    }
  });
});

describe('provisioning over /v1/provisioning/websocket', () => {
  it('sends an address and relays the message PUT to it, then closes normally', async () => {
    const existing = await registerDevice(server);
    const client = await open(`${server.wsUrl}/v1/provisioning/websocket`);
    const { address } = await client.nextOf('provisioning-address');
    expect(address).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(address, 'base64url')).toHaveLength(32);

    const body = new Uint8Array(Array.from({ length: 500 }, (_, i) => i % 256));
    await apiOk(server, 'PUT', `/v1/provisioning/${address}`, { auth: existing, body: { body: Buffer.from(body).toString('base64') } });
    const message = await client.nextOf('provisioning-message');
    expect([...message.body]).toEqual([...body]);
    expect(await client.waitClosed()).toEqual({ code: 1000, reason: 'delivered' });

    // The address was one-use: a second PUT is accepted by HTTP but reaches no one.
    const again = await api(server, 'PUT', `/v1/provisioning/${address}`, { auth: existing, body: { body: 'AAAA' } });
    expect(again.status).toBe(204);
  });

  it('gives every socket its own address', async () => {
    const a = await open(`${server.wsUrl}/v1/provisioning/websocket`);
    const b = await open(`${server.wsUrl}/v1/provisioning/websocket`);
    expect((await a.nextOf('provisioning-address')).address).not.toBe((await b.nextOf('provisioning-address')).address);
    await a.close();
    await b.close();
  });

  it('limits open provisioning sockets per IP and expires unused ones with 4008', async () => {
    const quick = await startServer({ websocket: { maxProvisioningPerIp: 2, provisioningTtlMs: 300 } });
    try {
      const url = `${quick.wsUrl}/v1/provisioning/websocket`;
      const first = await FrameClient.connect(url);
      const second = await FrameClient.connect(url);
      const refused = await refusedUpgrade(url);
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
      await first.nextOf('provisioning-address');
      expect(await first.waitClosed()).toEqual({ code: 4008, reason: 'expired' });
      expect((await second.waitClosed()).code).toBe(4008);
      // Closed sockets free their slots.
      const third = await FrameClient.connect(url);
      await third.nextOf('provisioning-address');
      await third.close();
    } finally {
      await quick.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('closes every socket with 1001 and refuses new upgrades', async () => {
    const own = await startServer();
    const bob = await registerDevice(own);
    const carol = await registerDevice(own);
    const b = await connectDevice(own, bob);
    const c = await connectDevice(own, carol);
    const p = await FrameClient.connect(`${own.wsUrl}/v1/provisioning/websocket`);
    const unauthenticated = await FrameClient.connect(`${own.wsUrl}/v1/websocket`);
    await own.close();
    for (const client of [b, c, p, unauthenticated]) expect(await client.waitClosed()).toEqual({ code: 1001, reason: 'going away' });
    expect(own.app.websockets.connectionCount).toBe(0);
  });

  it('waits for clients that do not answer the close handshake only up to closeTimeoutMs', async () => {
    const own = await startServer({ websocket: { closeTimeoutMs: 200 } });
    const bob = await registerDevice(own);
    const client = await connectDevice(own, bob);
    // Stop reading: the close frame is never answered.
    (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('logs', () => {
  it('never contain device secrets or envelope bytes', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const envelope = testEnvelope(new TextEncoder().encode('a secret message'));
    await sendMessage(server, alice, [bob], () => envelope);
    const client = await open(`${server.wsUrl}/v1/websocket`);
    client.send({ kind: 'auth', login: loginOf(bob) });
    await client.nextOf('ready');
    await client.nextOf('envelope');
    await client.close();
    const text = server.logs.join('\n');
    expect(server.logs.length).toBeGreaterThan(0);
    for (const device of [alice, bob]) expect(text).not.toContain(device.password);
    expect(text).not.toContain(Buffer.from(envelope).toString('base64'));
    expect(text).not.toContain('a secret message');
  });
});

async function metricsText(): Promise<string> {
  return (await api<string>(server, 'GET', '/metrics', { headers: METRICS_AUTH })).body;
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.split(' ')[1]);
}
