import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerErrorCode } from '@samizdat/protocol';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { EnvelopeType, MAX_ENVELOPE_FRAME_BYTES, decodeClientFrame, encodeEnvelope, encodeFrame } from '@samizdat/protocol';
import type { ClientFrame } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { DeliverySocket } from '../../src/transport/delivery-socket.js';
import type { DeliverySocketOptions, DeliveryState, ReceivedEnvelope } from '../../src/transport/delivery-socket.js';
import { HttpApi, mismatchOf } from '../../src/transport/http-api.js';
import type { OutgoingEnvelope } from '../../src/transport/http-api.js';
import type { Connector } from '../../src/transport/connector.js';
import { nodeConnector } from '../../src/transport/node-connector.js';
import { linkDevice, queuedIds, registerDevice, sendMessage, startServer, testEnvelope } from '../../../server/test/helpers/server.js';
import type { TestDevice, TestServer } from '../../../server/test/helpers/server.js';
import { MlsTestGroup } from '../../../server/test/helpers/mls-group.js';
import { connectDevice } from '../../../server/test/helpers/ws-client.js';
import { answering, closedPort, credentialsOf, eventually, rejectionOf, sleep } from './helpers.js';
import { startTcpRelay } from './proxies.js';
import type { TestProxy } from './proxies.js';

let server: TestServer;
const sockets: DeliverySocket[] = [];

beforeAll(async () => {
  server = await startServer({ logLevel: 'warn' });
});

afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await server.close();
});

/** What a DeliverySocket handed over, and how (order, concurrency, states). */
class Recorder {
  readonly envelopes: ReceivedEnvelope[] = [];
  readonly states: DeliveryState[] = [];
  queueEmpties = 0;
  active = 0;
  maxActive = 0;

  constructor(private readonly handle: (received: ReceivedEnvelope, socket: DeliverySocket) => Promise<void> | void = () => undefined) {}

  ids(): bigint[] {
    return this.envelopes.map((e) => e.id);
  }

  open(device: TestDevice, options: Partial<DeliverySocketOptions> = {}): DeliverySocket {
    const socket: DeliverySocket = new DeliverySocket({
      connector: nodeConnector(),
      serverUrl: server.url,
      credentials: credentialsOf(device),
      onEnvelope: async (received) => {
        this.active++;
        this.maxActive = Math.max(this.maxActive, this.active);
        try {
          this.envelopes.push(received);
          await this.handle(received, socket);
        } finally {
          this.active--;
        }
      },
      onQueueEmpty: () => this.queueEmpties++,
      onState: (state) => this.states.push(state),
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
      ...options,
    });
    sockets.push(socket);
    socket.start();
    return socket;
  }
}

/** Acks every envelope as soon as it is handed over. */
const ackAll = (received: ReceivedEnvelope, socket: DeliverySocket): void => socket.ack(received.id);

describe('DeliverySocket delivery', () => {
  it('hands over queued envelopes in order, then QUEUE_EMPTY, then live ones', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const queued: bigint[] = [];
    for (let i = 0; i < 5; i++) queued.push(...(await sendMessage(server, alice, [bob], () => testEnvelope(Uint8Array.of(i)))));

    const recorder = new Recorder(ackAll);
    const socket = recorder.open(bob);
    await socket.whenQueueEmpty();
    expect(recorder.ids()).toEqual(queued);
    expect(recorder.queueEmpties).toBe(1);
    expect(recorder.envelopes[0]?.source).toEqual({ accountId: alice.accountId, deviceId: 1 });
    expect(recorder.envelopes[0]?.receivedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(socket.state).toBe('open');
    expect(recorder.states).toEqual(['connecting', 'open']);
    // Already drained: resolves at once.
    await socket.whenQueueEmpty();

    const [live] = await sendMessage(server, alice, [bob]);
    await eventually(() => expect(recorder.ids()).toEqual([...queued, live]));
    await eventually(async () => expect(await queuedIds(server, bob)).toEqual([]));
    expect(socket.stats).toMatchObject({ connections: 1, badFrames: 0, errorFrames: 0 });
  });

  it('never calls onEnvelope concurrently, and runs onQueueEmpty only after the envelopes before it', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const queued: bigint[] = [];
    for (let i = 0; i < 6; i++) queued.push(...(await sendMessage(server, alice, [bob])));
    let handledAtQueueEmpty = -1;
    const recorder = new Recorder(async (received, socket) => {
      await sleep(5 + Math.random() * 15);
      socket.ack(received.id);
    });
    const socket = recorder.open(bob, { onQueueEmpty: () => (handledAtQueueEmpty = recorder.envelopes.length - recorder.active) });
    await socket.whenQueueEmpty();
    expect(handledAtQueueEmpty).toBe(6);

    const live: bigint[] = [];
    for (let i = 0; i < 6; i++) live.push(...(await sendMessage(server, alice, [bob])));
    await eventually(() => expect(recorder.ids()).toEqual([...queued, ...live]));
    expect(recorder.maxActive).toBe(1);
  });

  it('authenticates with an AUTH frame when the connector cannot set headers', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const [id] = await sendMessage(server, alice, [bob]);
    const base = nodeConnector();
    const headersSeen: unknown[] = [];
    const browserLike: Connector = {
      canSetWebSocketHeaders: false,
      fetch: base.fetch,
      openWebSocket: (url, headers) => {
        headersSeen.push(headers);
        return base.openWebSocket(url, headers);
      },
    };
    const recorder = new Recorder(ackAll);
    const socket = recorder.open(bob, { connector: browserLike });
    await socket.whenQueueEmpty();
    expect(recorder.ids()).toEqual([id]);
    expect(headersSeen).toEqual([undefined]);
  });

  it('reports an exception from onEnvelope and carries on with the next envelope', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const ids = [...(await sendMessage(server, alice, [bob])), ...(await sendMessage(server, alice, [bob]))];
    const errors: unknown[] = [];
    const recorder = new Recorder((received, socket) => {
      if (received.id === ids[0]) throw new Error('storage failed');
      socket.ack(received.id);
    });
    const socket = recorder.open(bob, { onError: (err) => errors.push(err) });
    await socket.whenQueueEmpty();
    expect(recorder.ids()).toEqual(ids);
    expect(errors).toHaveLength(1);
    // The failed one stays queued on the server, for the next connection.
    await eventually(async () => expect(await queuedIds(server, bob)).toEqual([ids[0]]));
  });
});

describe('DeliverySocket reconnection', () => {
  let relay: TestProxy & { setTarget(port: number): void };

  afterEach(async () => {
    await relay.close();
  });

  it('reconnects after the connection drops; acked envelopes are not redelivered, unacked ones are', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    relay = await startTcpRelay(Number(new URL(server.url).port));
    const ids: bigint[] = [];
    for (let i = 0; i < 4; i++) ids.push(...(await sendMessage(server, alice, [bob])));
    const unacked = new Set([ids[1], ids[3]]);
    const recorder = new Recorder((received, socket) => {
      if (!unacked.has(received.id)) socket.ack(received.id);
    });
    const socket = recorder.open(bob, { serverUrl: relay.url });
    await socket.whenQueueEmpty();
    expect(recorder.ids()).toEqual(ids);
    await eventually(async () => expect(await queuedIds(server, bob)).toEqual([ids[1], ids[3]]));

    relay.dropAll();
    await eventually(() => expect(socket.stats.connections).toBe(2));
    await socket.whenQueueEmpty();
    expect(recorder.ids()).toEqual([...ids, ids[1], ids[3]]);
    expect(recorder.states).toEqual(['connecting', 'open', 'backoff', 'connecting', 'open']);
    expect(socket.stats.connections).toBe(2);
    expect(recorder.queueEmpties).toBe(2);

    // And live delivery works on the new connection.
    const [live] = await sendMessage(server, alice, [bob]);
    await eventually(() => expect(recorder.ids().at(-1)).toBe(live));
  });

  it('backs off exponentially while the server cannot be reached, then connects', async () => {
    const bob = await registerDevice(server);
    const port = await closedPort();
    relay = await startTcpRelay(port);
    const recorder = new Recorder();
    const socket = recorder.open(bob, { serverUrl: relay.url, reconnect: { initialDelayMs: 40, maxDelayMs: 160 } });
    await sleep(1000);
    const attempts = socket.stats.connections;
    // Without backoff this would be hundreds; with 20–40, 40–80, 80–160, then 80–160 ms it is about 10.
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(attempts).toBeLessThanOrEqual(16);
    expect(recorder.states.filter((s) => s === 'backoff').length).toBeGreaterThanOrEqual(attempts - 1);
    expect(socket.state === 'backoff' || socket.state === 'connecting').toBe(true);

    // The server is back.
    relay.setTarget(Number(new URL(server.url).port));
    await socket.whenQueueEmpty();
    expect(socket.state).toBe('open');
  });
});

describe('DeliverySocket final states', () => {
  it('stops with "replaced" when another connection of the device opens', async () => {
    const bob = await registerDevice(server);
    const recorder = new Recorder();
    const socket = recorder.open(bob);
    await socket.whenQueueEmpty();
    const other = await connectDevice(server, bob);
    try {
      await eventually(() => expect(socket.state).toBe('replaced'));
      const err = await rejectionOf(socket.whenQueueEmpty());
      expect(ClientError.is(err, ClientErrorCode.Closed)).toBe(true);
      await sleep(200);
      expect(socket.stats.connections).toBe(1);
    } finally {
      other.ws.terminate();
    }
  });

  it('stops with "removed" when the device is removed', async () => {
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const recorder = new Recorder();
    const socket = recorder.open(bob2);
    await socket.whenQueueEmpty();
    await new HttpApi({ connector: nodeConnector(), serverUrl: server.url, credentials: credentialsOf(bob) }).removeDevice(bob2.deviceId);
    await eventually(() => expect(socket.state).toBe('removed'));
    expect(recorder.states).toEqual(['connecting', 'open', 'removed']);
  });

  it('stops with "unauthorized" for wrong credentials, by header (401) and by AUTH frame (4001)', async () => {
    const bob = await registerDevice(server);
    const wrong = { ...bob, password: 'A'.repeat(32) };
    const byHeader = new Recorder().open(wrong);
    const base = nodeConnector();
    const byFrame = new Recorder().open(wrong, { connector: { ...base, canSetWebSocketHeaders: false } });
    await eventually(() => expect([byHeader.state, byFrame.state]).toEqual(['unauthorized', 'unauthorized']));
    await sleep(200);
    expect([byHeader.stats.connections, byFrame.stats.connections]).toEqual([1, 1]);
  });

  it('close() sends the acks made so far, and whenQueueEmpty() rejects afterwards', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const [id] = await sendMessage(server, alice, [bob]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const recorder = new Recorder(async (received, socket) => {
      await held;
      socket.ack(received.id);
    });
    const socket = recorder.open(bob);
    await eventually(() => expect(recorder.active).toBe(1));
    const closing = socket.close();
    release();
    await closing;
    expect(socket.state).toBe('closed');
    await eventually(async () => expect(await queuedIds(server, bob)).not.toContain(id));
    expect(ClientError.is(await rejectionOf(socket.whenQueueEmpty()), ClientErrorCode.Closed)).toBe(true);
  });
});

describe('DeliverySocket against a misbehaving server', () => {
  it('ignores and counts frames that do not decode or come out of place', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    const envelope = { kind: 'envelope', id: 7n, receivedAt: 1, source: undefined, envelope: testEnvelope() } as const;
    wss.on('connection', (ws) => {
      ws.send(encodeFrame(envelope)); // before READY: out of place
      ws.send(encodeFrame({ kind: 'ready' }));
      ws.send(Uint8Array.of(0x11, 1, 2)); // truncated ENVELOPE
      ws.send(Uint8Array.of(0x7f)); // unknown type
      ws.send('text');
      ws.send(encodeFrame({ kind: 'provisioning-address', address: 'a'.repeat(43) }));
      ws.send(encodeFrame({ kind: 'error', code: 'UNKNOWN_ENVELOPE_ACK' }));
      ws.send(encodeFrame(envelope));
      ws.send(encodeFrame({ kind: 'queue-empty' }));
    });
    try {
      const bob = await registerDevice(server);
      const recorder = new Recorder();
      const socket = recorder.open(bob, { serverUrl: `http://127.0.0.1:${(wss.address() as AddressInfo).port}` });
      await socket.whenQueueEmpty();
      expect(recorder.ids()).toEqual([7n]);
      expect(socket.stats).toMatchObject({ badFrames: 5, errorFrames: 1 });
    } finally {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('drops a connection that never becomes READY and tries again', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    try {
      const bob = await registerDevice(server);
      const recorder = new Recorder();
      const socket = recorder.open(bob, { serverUrl: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, readyTimeoutMs: 100 });
      await eventually(() => expect(socket.stats.connections).toBeGreaterThanOrEqual(2));
      expect(recorder.states.slice(0, 3)).toEqual(['connecting', 'backoff', 'connecting']);
    } finally {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});

/** The copy of a send meant for `device`. */
const copyFor = (device: TestDevice, envelope: Uint8Array = testEnvelope()): OutgoingEnvelope => ({
  deviceId: device.deviceId,
  registrationId: device.registrationId,
  envelope,
});

/** A random MLS group id. */
const newGroupId = (): string => randomBytes(32).toString('hex');

/** A GroupMessage envelope (opaque to the server) with random content. */
const groupEnvelope = (): Uint8Array => encodeEnvelope({ type: EnvelopeType.GroupMessage, timestamp: Date.now(), content: new Uint8Array(randomBytes(32)) });

const httpOf = (device: TestDevice, target: TestServer = server): HttpApi =>
  new HttpApi({ connector: nodeConnector(), serverUrl: target.url, credentials: credentialsOf(device) });

describe('DeliverySocket sends', () => {
  it('sends over the open socket and resolves with the ids of the stored copies, in order', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const socket = new Recorder().open(alice);
    await socket.whenQueueEmpty();

    const [first, second] = await Promise.all([
      socket.send(bob.accountId, [copyFor(bob), copyFor(bob2)]),
      socket.send(bob.accountId, [copyFor(bob2), copyFor(bob)]),
    ]);
    const [bobQueue, bob2Queue] = [await queuedIds(server, bob), await queuedIds(server, bob2)];
    expect([...bobQueue].sort()).toEqual([first?.ids[0], second?.ids[1]].sort());
    expect([...bob2Queue].sort()).toEqual([first?.ids[1], second?.ids[0]].sort());
    expect(socket.stats).toMatchObject({ sent: 2, badFrames: 0 });
  });

  it('refuses with the very error HttpApi.sendMessages throws for the same send', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const socket = new Recorder().open(alice);
    await socket.whenQueueEmpty();
    const cases: [string, string, OutgoingEnvelope[]][] = [
      ['a missing device', bob.accountId, [copyFor(bob)]],
      ['a stale and an extra device', bob.accountId, [copyFor(bob), { ...copyFor(bob2), registrationId: bob2.registrationId === 1 ? 2 : 1 }, { ...copyFor(bob), deviceId: 9 }]],
      ['an unknown account', '0'.repeat(32), [copyFor(bob)]],
      ['an envelope that does not decode', bob.accountId, [copyFor(bob, Uint8Array.of(0xff, 1, 2)), copyFor(bob2)]],
      // Only a sync copy to one's own account may be empty; the server knows whose account that is.
      ['an empty send to another account', bob.accountId, []],
    ];
    for (const [what, accountId, messages] of cases) {
      const overSocket = await rejectionOf(socket.send(accountId, messages));
      const overHttp = await rejectionOf(httpOf(alice).sendMessages(accountId, messages));
      expect(ClientError.is(overSocket, ClientErrorCode.ServerError), what).toBe(true);
      expect((overSocket as ClientError).server, what).toEqual((overHttp as ClientError).server);
    }
    const mismatch = await rejectionOf(socket.send(bob.accountId, [copyFor(bob), { ...copyFor(bob2), registrationId: bob2.registrationId === 1 ? 2 : 1 }, { ...copyFor(bob), deviceId: 9 }]));
    expect(mismatchOf(mismatch)).toEqual({ missingDevices: [], extraDevices: [9], staleDevices: [bob2.deviceId] });
    // Malformed sends never leave, as over HTTP.
    for (const messages of [[copyFor(bob), copyFor(bob)], [{ ...copyFor(bob), deviceId: 0 }]]) {
      expect(ClientError.is(await rejectionOf(socket.send(bob.accountId, messages)), ClientErrorCode.InvalidArgument)).toBe(true);
    }
    expect(await queuedIds(server, bob)).toEqual([]);
    expect(socket.stats).toMatchObject({ sent: 0, badFrames: 0 });
  });

  it('refuses QUEUE_FULL and RATE_LIMITED (with retryAfter) as HttpApi does', async () => {
    const limited = await startServer({ logLevel: 'warn', limits: { maxQueueDepth: 1, accountRequestsPerMinute: 6 } });
    try {
      const alice = await registerDevice(limited);
      const bob = await registerDevice(limited);
      const socket = new Recorder().open(alice, { serverUrl: limited.url });
      await socket.whenQueueEmpty();
      await socket.send(bob.accountId, [copyFor(bob)]);
      const full = await rejectionOf(socket.send(bob.accountId, [copyFor(bob)]));
      expect((full as ClientError).server).toEqual((await rejectionOf(httpOf(alice, limited).sendMessages(bob.accountId, [copyFor(bob)])) as ClientError).server);
      let limitedOverSocket: unknown;
      for (let i = 0; i < 10 && !ClientError.isServer(limitedOverSocket, 'RATE_LIMITED'); i++) {
        limitedOverSocket = await rejectionOf(socket.send(bob.accountId, [copyFor(bob)]));
      }
      const limitedOverHttp = await rejectionOf(httpOf(alice, limited).sendMessages(bob.accountId, [copyFor(bob)]));
      expect(ClientError.isServer(limitedOverHttp, 'RATE_LIMITED')).toBe(true);
      const { server: overSocket } = limitedOverSocket as ClientError;
      const { server: overHttp } = limitedOverHttp as ClientError;
      expect(overSocket?.code).toBe('RATE_LIMITED');
      expect(overSocket?.status).toBe(overHttp?.status);
      expect(Object.keys(overSocket?.details ?? {})).toEqual(Object.keys(overHttp?.details ?? {}));
      expect(overSocket?.details?.retryAfter).toBeGreaterThan(0);
    } finally {
      await Promise.all(sockets.splice(0).map((s) => s.close()));
      await limited.close();
    }
  });

  it('does not send without an open connection (SERVER_UNREACHABLE)', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const socket = new DeliverySocket({ connector: nodeConnector(), serverUrl: server.url, credentials: credentialsOf(alice), onEnvelope: () => undefined });
    sockets.push(socket);
    expect(ClientError.is(await rejectionOf(socket.send(bob.accountId, [copyFor(bob)])), ClientErrorCode.ServerUnreachable)).toBe(true);
    socket.start();
    await socket.whenQueueEmpty();
    await socket.close();
    expect(ClientError.is(await rejectionOf(socket.send(bob.accountId, [copyFor(bob)])), ClientErrorCode.ServerUnreachable)).toBe(true);
    expect(ClientError.is(await rejectionOf(socket.sendGroup(newGroupId(), groupEnvelope())), ClientErrorCode.ServerUnreachable)).toBe(true);
    expect(await queuedIds(server, bob)).toEqual([]);
  });

  it('sends a group message to the other members, and refuses one with the very error HttpApi.sendGroupMessage throws', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const carol = await registerDevice(server);
    // The server verifies what it orders: a real MLS group of Alice and Bob (the message sent below need not be MLS).
    const group = await MlsTestGroup.create(server, alice);
    await group.post(server, await group.add(alice, [bob]));
    const groupId = group.groupId;
    const queued = await queuedIds(server, bob);
    const socket = new Recorder().open(alice);
    const outsider = new Recorder().open(carol);
    await socket.whenQueueEmpty();
    await outsider.whenQueueEmpty();

    expect(await socket.sendGroup(groupId, groupEnvelope())).toEqual({ stored: 1 });
    expect(await queuedIds(server, bob)).toHaveLength(queued.length + 1);
    expect(await queuedIds(server, alice)).toEqual([]);

    const cases: [string, DeliverySocket, TestDevice, string, Uint8Array][] = [
      ['a device outside the group', outsider, carol, groupId, groupEnvelope()],
      ['an unknown group', socket, alice, newGroupId(), groupEnvelope()],
      ['an envelope that is not a GroupMessage', socket, alice, groupId, testEnvelope()],
      ['an envelope that does not decode', socket, alice, groupId, Uint8Array.of(0xff, 1, 2)],
    ];
    for (const [what, from, device, id, envelope] of cases) {
      const overSocket = await rejectionOf(from.sendGroup(id, envelope));
      const overHttp = await rejectionOf(httpOf(device).sendGroupMessage(id, envelope));
      expect(ClientError.is(overSocket, ClientErrorCode.ServerError), what).toBe(true);
      expect((overSocket as ClientError).server, what).toEqual((overHttp as ClientError).server);
    }
    expect(await queuedIds(server, bob)).toHaveLength(queued.length + 1);
    expect(socket.stats).toMatchObject({ sent: 1, badFrames: 0 });
  });
});

describe('DeliverySocket sends against a server that holds its answers', () => {
  type Send = Extract<ClientFrame, { kind: 'send' }>;
  type GroupSend = Extract<ClientFrame, { kind: 'group-send' }>;
  let wss: WebSocketServer;
  let url: string;
  /** The SEND frames received, with the socket each came on. */
  let received: { frame: Send; ws: WebSocket }[];
  /** The GROUP_SEND frames received, likewise. */
  let groupSends: { frame: GroupSend; ws: WebSocket }[];

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (ws) => {
      ws.send(encodeFrame({ kind: 'ready' }));
      ws.send(encodeFrame({ kind: 'queue-empty' }));
      ws.on('message', (data: Buffer) => {
        const frame = decodeClientFrame(new Uint8Array(data));
        if (frame.kind === 'send') received.push({ frame, ws });
        if (frame.kind === 'group-send') groupSends.push({ frame, ws });
      });
    });
  });

  afterEach(() => {
    for (const client of wss.clients) client.terminate();
  });

  afterAll(async () => {
    await new Promise((resolve) => wss.close(resolve));
  });

  const answerOk = (ws: WebSocket, requestId: number, ids: bigint[]): void => ws.send(encodeFrame({ kind: 'send-ok', requestId, ids }));

  async function openSocket(options: Partial<DeliverySocketOptions> = {}): Promise<{ socket: DeliverySocket; bob: TestDevice }> {
    received = [];
    groupSends = [];
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const socket = new Recorder().open(alice, { serverUrl: url, ...options });
    await socket.whenQueueEmpty();
    return { socket, bob };
  }

  it('matches answers to sends by request id, in any order, and ignores unknown ids', async () => {
    const { socket, bob } = await openSocket();
    const first = socket.send(bob.accountId, [copyFor(bob)]);
    const second = socket.send(bob.accountId, [copyFor(bob)]);
    await eventually(() => expect(received).toHaveLength(2));
    const [a, b] = received as [(typeof received)[0], (typeof received)[0]];
    expect(a.frame.requestId).not.toBe(b.frame.requestId);
    answerOk(b.ws, b.frame.requestId + 1000, [99n]); // nobody asked
    answerOk(b.ws, b.frame.requestId, [2n]);
    b.ws.send(encodeFrame({ kind: 'send-error', requestId: a.frame.requestId, code: 'QUEUE_FULL', message: 'x', retryAfter: 0, missingDevices: [], extraDevices: [], staleDevices: [] }));
    expect(await second).toEqual({ ids: [2n] });
    const refused = await rejectionOf(first);
    expect(ClientError.isServer(refused, 'QUEUE_FULL')).toBe(true);
    expect((refused as ClientError).server).toEqual({ code: 'QUEUE_FULL', status: 429, details: {} });
    expect(socket.stats).toMatchObject({ sent: 1, badFrames: 0 });
  });

  it('rejects an answer that does not account for every copy (BAD_RESPONSE)', async () => {
    const { socket, bob } = await openSocket();
    const sending = socket.send(bob.accountId, [copyFor(bob)]);
    await eventually(() => expect(received).toHaveLength(1));
    const [{ frame, ws }] = received as [(typeof received)[0]];
    answerOk(ws, frame.requestId, [1n, 2n]);
    expect(ClientError.is(await rejectionOf(sending), ClientErrorCode.BadResponse)).toBe(true);
  });

  it('rejects sends still waiting when the connection closes (SERVER_UNREACHABLE), and takes no answer for them later', async () => {
    const { socket, bob } = await openSocket();
    const waiting = [socket.send(bob.accountId, [copyFor(bob)]), socket.send(bob.accountId, [copyFor(bob)])];
    await eventually(() => expect(received).toHaveLength(2));
    const [{ frame, ws }] = received as [(typeof received)[0]];
    ws.terminate();
    for (const send of waiting) {
      const err = await rejectionOf(send);
      expect(ClientError.is(err, ClientErrorCode.ServerUnreachable)).toBe(true);
      expect((err as ClientError).message).toContain('not sent over the socket');
    }
    // Reconnected: an answer to a send of the old connection is nobody's.
    await eventually(() => expect(socket.state).toBe('open'));
    const [newer] = [...wss.clients];
    answerOk(newer as WebSocket, frame.requestId, [1n]);
    const next = socket.send(bob.accountId, [copyFor(bob)]);
    await eventually(() => expect(received).toHaveLength(3));
    const last = received[2] as (typeof received)[0];
    expect(last.frame.requestId).not.toBe(frame.requestId);
    answerOk(last.ws, last.frame.requestId, [3n]);
    expect(await next).toEqual({ ids: [3n] });
    expect(socket.stats).toMatchObject({ sent: 1, badFrames: 0 });
  });

  it('rejects a send not answered in time, and one still waiting when close() is called', async () => {
    const { socket, bob } = await openSocket({ sendTimeoutMs: 100, closeTimeoutMs: 200 });
    const err = await rejectionOf(socket.send(bob.accountId, [copyFor(bob)]));
    expect(ClientError.is(err, ClientErrorCode.ServerUnreachable)).toBe(true);
    expect((err as ClientError).message).toContain('no answer in time');

    const { socket: other, bob: carol } = await openSocket({ closeTimeoutMs: 200 });
    const waiting = other.send(carol.accountId, [copyFor(carol)]);
    await eventually(() => expect(received).toHaveLength(1));
    await other.close();
    expect(ClientError.is(await rejectionOf(waiting), ClientErrorCode.ServerUnreachable)).toBe(true);
  });

  describe('group sends', () => {
    type Waiting = (typeof groupSends)[0];
    const groupId = 'ab'.repeat(32);
    const answerGroupOk = (ws: WebSocket, requestId: number, stored: number): void => ws.send(encodeFrame({ kind: 'group-send-ok', requestId, stored }));
    const refuse = (ws: WebSocket, requestId: number, code: string, retryAfter = 0): void =>
      ws.send(encodeFrame({ kind: 'send-error', requestId, code, message: 'x', retryAfter, missingDevices: [], extraDevices: [], staleDevices: [] }));

    it('sends the envelope in a GROUP_SEND frame and resolves with the count of GROUP_SEND_OK', async () => {
      const { socket, bob } = await openSocket();
      const envelope = groupEnvelope();
      const one = socket.sendGroup(groupId, envelope);
      const other = socket.sendGroup(groupId, groupEnvelope());
      const direct = socket.send(bob.accountId, [copyFor(bob)]);
      await eventually(() => expect([groupSends.length, received.length]).toEqual([2, 1]));
      const [a, b] = groupSends as [Waiting, Waiting];
      const [c] = received as [(typeof received)[0]];
      expect(a.frame.groupId).toBe(groupId);
      expect(a.frame.envelope).toEqual(envelope);
      // Both kinds of send draw from one run of request ids.
      expect(new Set([a.frame.requestId, b.frame.requestId, c.frame.requestId]).size).toBe(3);
      answerGroupOk(b.ws, b.frame.requestId, 0);
      answerGroupOk(a.ws, a.frame.requestId + 1000, 9); // nobody asked
      answerGroupOk(a.ws, a.frame.requestId, 5);
      answerOk(c.ws, c.frame.requestId, [1n]);
      expect(await one).toEqual({ stored: 5 });
      expect(await other).toEqual({ stored: 0 });
      expect(await direct).toEqual({ ids: [1n] });
      expect(socket.stats).toMatchObject({ sent: 3, badFrames: 0 });
    });

    it('refuses with the very ClientError HttpApi.sendGroupMessage throws for the same refusal of the route', async () => {
      const { socket, bob } = await openSocket();
      // Each code with the status PUT /v1/groups/:groupId/messages answers it with (docs/api.md "Errors").
      const cases: [ServerErrorCode, number, number][] = [
        ['NOT_A_GROUP_MEMBER', 403, 0],
        ['GROUP_NOT_FOUND', 404, 0],
        ['INVALID_ENVELOPE', 400, 0],
        ['ENVELOPE_TOO_LARGE', 413, 0],
        ['RATE_LIMITED', 429, 7],
        ['QUEUE_FULL', 429, 0],
        ['SHUTTING_DOWN', 503, 0],
      ];
      for (const [code, status, retryAfter] of cases) {
        const sending = socket.sendGroup(groupId, groupEnvelope());
        await eventually(() => expect(groupSends).toHaveLength(1));
        const [{ frame, ws }] = groupSends.splice(0) as [Waiting];
        refuse(ws, frame.requestId, code, retryAfter);
        const overSocket = await rejectionOf(sending);
        expect(ClientError.isServer(overSocket, code), code).toBe(true);
        expect((overSocket as ClientError).message).toBe(`GROUP_SEND on /v1/websocket: the server refused with ${code}`);
        const route = await answering(status, { code, message: 'x', ...(retryAfter > 0 ? { retryAfter } : {}) });
        try {
          const http = new HttpApi({ connector: nodeConnector(), serverUrl: route.url, credentials: credentialsOf(bob) });
          const overHttp = await rejectionOf(http.sendGroupMessage(groupId, groupEnvelope()));
          expect((overSocket as ClientError).server, code).toEqual((overHttp as ClientError).server);
        } finally {
          await route.close();
        }
      }
      expect(socket.stats).toMatchObject({ sent: 0, badFrames: 0 });
    });

    it('rejects an answer of the other kind of send (BAD_RESPONSE)', async () => {
      const { socket, bob } = await openSocket();
      const group = socket.sendGroup(groupId, groupEnvelope());
      const direct = socket.send(bob.accountId, [copyFor(bob)]);
      await eventually(() => expect([groupSends.length, received.length]).toEqual([1, 1]));
      const [g] = groupSends as [Waiting];
      const [d] = received as [(typeof received)[0]];
      answerOk(g.ws, g.frame.requestId, [1n]);
      answerGroupOk(d.ws, d.frame.requestId, 1);
      const [wrongForGroup, wrongForDirect] = [await rejectionOf(group), await rejectionOf(direct)];
      expect(ClientError.is(wrongForGroup, ClientErrorCode.BadResponse)).toBe(true);
      expect((wrongForGroup as ClientError).message).toBe('GROUP_SEND on /v1/websocket: the server answered with SEND_OK');
      expect(ClientError.is(wrongForDirect, ClientErrorCode.BadResponse)).toBe(true);
      expect((wrongForDirect as ClientError).message).toBe('SEND on /v1/websocket: the server answered with GROUP_SEND_OK');
      // Settled: the right answer coming late belongs to nobody.
      answerGroupOk(g.ws, g.frame.requestId, 1);
      await sleep(50);
      expect(socket.stats).toMatchObject({ sent: 0, badFrames: 0 });
    });

    it('rejects a group send still waiting when the connection closes, or not answered in time (SERVER_UNREACHABLE)', async () => {
      const { socket } = await openSocket();
      const waiting = socket.sendGroup(groupId, groupEnvelope());
      await eventually(() => expect(groupSends).toHaveLength(1));
      const [{ frame, ws }] = groupSends as [Waiting];
      ws.terminate();
      const closed = await rejectionOf(waiting);
      expect(ClientError.is(closed, ClientErrorCode.ServerUnreachable)).toBe(true);
      expect((closed as ClientError).message).toBe('GROUP_SEND on /v1/websocket: not sent over the socket (the connection closed before the answer)');
      // Reconnected: the answer to the old connection's send is nobody's.
      await eventually(() => expect(socket.state).toBe('open'));
      answerGroupOk([...wss.clients][0] as WebSocket, frame.requestId, 1);
      await sleep(50);
      expect(socket.stats).toMatchObject({ sent: 0, badFrames: 0 });

      const { socket: slow } = await openSocket({ sendTimeoutMs: 100 });
      const late = await rejectionOf(slow.sendGroup(groupId, groupEnvelope()));
      expect(ClientError.is(late, ClientErrorCode.ServerUnreachable)).toBe(true);
      expect((late as ClientError).message).toBe('GROUP_SEND on /v1/websocket: not sent over the socket (no answer in time)');
      expect(groupSends).toHaveLength(1);
    });

    it('does not send a malformed group id (INVALID_ARGUMENT, as HttpApi), nor without a connection or too large for a frame', async () => {
      const { socket, bob } = await openSocket();
      const http = new HttpApi({ connector: nodeConnector(), serverUrl: url, credentials: credentialsOf(bob) });
      for (const id of ['', 'AB'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33), 'g'.repeat(64), `${'ab'.repeat(31)}a `]) {
        const overSocket = await rejectionOf(socket.sendGroup(id, groupEnvelope()));
        expect(ClientError.is(overSocket, ClientErrorCode.InvalidArgument), id).toBe(true);
        expect((overSocket as ClientError).message).toBe((await rejectionOf(http.sendGroupMessage(id, groupEnvelope())) as ClientError).message);
      }
      const tooLarge = await rejectionOf(socket.sendGroup(groupId, new Uint8Array(MAX_ENVELOPE_FRAME_BYTES + 1)));
      expect(ClientError.is(tooLarge, ClientErrorCode.ServerUnreachable)).toBe(true);
      expect((tooLarge as ClientError).message).toContain('too large for a GROUP_SEND frame');
      await socket.close();
      expect(ClientError.is(await rejectionOf(socket.sendGroup(groupId, groupEnvelope())), ClientErrorCode.ServerUnreachable)).toBe(true);
      await sleep(50);
      expect(groupSends).toEqual([]);
    });
  });
});
