/**
 * SEND frames on /v1/websocket: the same send as PUT /v1/messages/:accountId over the open socket, answered with
 * SEND_OK or SEND_ERROR; GROUP_SEND frames: the same as PUT /v1/groups/:groupId/messages, answered with GROUP_SEND_OK
 * or SEND_ERROR (docs/api.md "WebSocket"). Real server on 127.0.0.1 with its SQLite file, real sockets.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeType, FrameType, MAX_SEND_COPIES, encodeEnvelope, encodeFrame } from '@samizdat/protocol';
import type { SendCopy } from '@samizdat/protocol';
import { METRICS_AUTH, api, apiOk, expectEventually, linkDevice, queuedIds, registerDevice, startServer, testEnvelope } from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { MlsTestGroup } from '../helpers/mls-group.js';
import { connectDevice } from '../helpers/ws-client.js';
import type { FrameClient } from '../helpers/ws-client.js';

let server: TestServer;
const clients: FrameClient[] = [];

async function connect(device: TestDevice, target: TestServer = server): Promise<FrameClient> {
  const client = await connectDevice(target, device);
  clients.push(client);
  await client.nextOf('queue-empty');
  return client;
}

const copyFor = (device: TestDevice, envelope: Uint8Array = testEnvelope()): SendCopy => ({
  deviceId: device.deviceId,
  registrationId: device.registrationId,
  envelope,
});

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  for (const client of clients) client.ws.terminate();
  await server.close();
  for (const client of clients) expect(client.undecodable).toEqual([]);
});

describe('SEND over /v1/websocket', () => {
  it('stores every copy before SEND_OK, and the recipient gets it pushed with its source', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const aliceSocket = await connect(alice);
    const bobSocket = await connect(bob);

    const envelopes = [testEnvelope(Uint8Array.of(1)), testEnvelope(Uint8Array.of(2))];
    aliceSocket.send({ kind: 'send', requestId: 7, accountId: bob.accountId, copies: [copyFor(bob, envelopes[0]), copyFor(bob2, envelopes[1])] });
    const ok = await aliceSocket.nextOf('send-ok');
    expect(ok.requestId).toBe(7);
    expect(ok.ids).toHaveLength(2);
    // Stored for the device that is offline, in the order of the copies.
    expect(await queuedIds(server, bob2)).toEqual([ok.ids[1]]);
    const pushed = await bobSocket.nextOf('envelope');
    expect(pushed.id).toBe(ok.ids[0]);
    expect([...pushed.envelope]).toEqual([...(envelopes[0] as Uint8Array)]);
    expect(pushed.source).toEqual({ accountId: alice.accountId, deviceId: alice.deviceId });
    // Nothing is deleted until the recipient acknowledges.
    expect(await queuedIds(server, bob)).toEqual([ok.ids[0]]);
    bobSocket.ack([pushed.id]);
    await expectEventually(async () => expect(await queuedIds(server, bob)).toEqual([]));
  });

  it('sends a sync copy to the sender’s other device, never to the sending device', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    const socket = await connect(alice);
    socket.send({ kind: 'send', requestId: 1, accountId: alice.accountId, copies: [copyFor(alice2)] });
    const ok = await socket.nextOf('send-ok');
    expect(await queuedIds(server, alice2)).toEqual(ok.ids);
    socket.send({ kind: 'send', requestId: 2, accountId: alice.accountId, copies: [copyFor(alice), copyFor(alice2)] });
    const refused = await socket.nextOf('send-error');
    expect(refused).toMatchObject({ requestId: 2, code: 'DEVICE_LIST_MISMATCH', extraDevices: [alice.deviceId], missingDevices: [], staleDevices: [] });
  });

  it('answers a wrong device list with DEVICE_LIST_MISMATCH listing missing, extra and stale devices, storing nothing', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const socket = await connect(alice);

    socket.send({ kind: 'send', requestId: 1, accountId: bob.accountId, copies: [copyFor(bob)] });
    expect(await socket.nextOf('send-error')).toMatchObject({
      requestId: 1,
      code: 'DEVICE_LIST_MISMATCH',
      missingDevices: [bob2.deviceId],
      extraDevices: [],
      staleDevices: [],
    });
    const stale = { ...copyFor(bob2), registrationId: bob2.registrationId === 1 ? 2 : 1 };
    const extra = { ...copyFor(bob2), deviceId: 77 };
    socket.send({ kind: 'send', requestId: 2, accountId: bob.accountId, copies: [copyFor(bob), stale, extra] });
    const error = await socket.nextOf('send-error');
    expect(error).toMatchObject({ requestId: 2, code: 'DEVICE_LIST_MISMATCH', missingDevices: [], extraDevices: [77], staleDevices: [bob2.deviceId] });
    expect(error.message).toMatch(/devices/);
    expect(await queuedIds(server, bob)).toEqual([]);
    expect(await queuedIds(server, bob2)).toEqual([]);
  });

  it('answers every bad send with its stable code and keeps the connection working', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const socket = await connect(alice);
    const cases: { copies: SendCopy[]; accountId?: string; code: string; message?: RegExp }[] = [
      { copies: [copyFor(bob)], accountId: '0'.repeat(32), code: 'ACCOUNT_NOT_FOUND' },
      { copies: [copyFor(bob, Uint8Array.of(1, 2, 3))], code: 'INVALID_ENVELOPE', message: /copies\[0\]\.envelope/ },
      { copies: [copyFor(bob, new Uint8Array(300 * 1024 + 1))], code: 'ENVELOPE_TOO_LARGE' },
      { copies: [copyFor(bob), copyFor(bob)], code: 'BAD_REQUEST', message: /appears twice/ },
      { copies: [{ ...copyFor(bob), registrationId: 0 }], code: 'VALIDATION_FAILED', message: /copies\[0\]/ },
      { copies: [{ ...copyFor(bob), deviceId: 10_000 }], code: 'VALIDATION_FAILED' },
    ];
    let requestId = 100;
    for (const c of cases) {
      socket.send({ kind: 'send', requestId: ++requestId, accountId: c.accountId ?? bob.accountId, copies: c.copies });
      const error = await socket.nextOf('send-error');
      expect(error.requestId).toBe(requestId);
      expect(error.code).toBe(c.code);
      expect(error.message.length).toBeGreaterThan(0);
      if (c.message) expect(error.message).toMatch(c.message);
    }
    expect(await queuedIds(server, bob)).toEqual([]);
    // A truncated SEND is a BAD_FRAME like any undecodable frame.
    const frame = encodeFrame({ kind: 'send', requestId: 1, accountId: bob.accountId, copies: [copyFor(bob)] });
    socket.sendRaw(frame.subarray(0, frame.length - 1));
    expect((await socket.nextOf('error')).code).toBe('BAD_FRAME');
    socket.sendRaw(Uint8Array.of(FrameType.Send, 1, ...new Uint8Array(16), MAX_SEND_COPIES + 1));
    expect((await socket.nextOf('error')).code).toBe('BAD_FRAME');
    // A SEND with no copies decodes (a sync copy checking our own device list) but is refused for another account.
    socket.send({ kind: 'send', requestId: 2, accountId: bob.accountId, copies: [] });
    expect((await socket.nextOf('send-error')).code).toBe('BAD_REQUEST');
    // Still working.
    socket.send({ kind: 'send', requestId: 1, accountId: bob.accountId, copies: [copyFor(bob)] });
    const ok = await socket.nextOf('send-ok');
    expect(await queuedIds(server, bob)).toEqual(ok.ids);
    const metrics = await api(server, 'GET', '/metrics', { headers: METRICS_AUTH });
    expect(String(metrics.body)).toMatch(/code="INVALID_ENVELOPE"/);
  });

  it('answers pipelined sends each once, by request id, and delivers them all in order', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const socket = await connect(alice);
    const count = 200;
    const envelopes = Array.from({ length: count }, (_, i) => testEnvelope(Uint8Array.of(i & 0xff, i >> 8)));
    envelopes.forEach((envelope, i) => socket.send({ kind: 'send', requestId: i, accountId: bob.accountId, copies: [copyFor(bob, envelope)] }));
    const answers = await socket.take('send-ok', count);
    expect(answers.map((a) => a.requestId).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    const idOf = new Map(answers.map((a) => [a.requestId, a.ids[0] as bigint]));
    const bobSocket = await connectDevice(server, bob);
    clients.push(bobSocket);
    const received = [];
    while (received.length < count) {
      const envelope = await bobSocket.nextOf('envelope');
      received.push(envelope);
      bobSocket.ack([envelope.id]); // frees the delivery window
    }
    // Sent in request order on one socket, stored in that order.
    expect(received.map((r) => r.id)).toEqual(Array.from({ length: count }, (_, i) => idOf.get(i)));
    expect(received.map((r) => [...r.envelope])).toEqual(envelopes.map((e) => [...e]));
  });
});

describe('SEND limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ limits: { maxQueueDepth: 2, accountRequestsPerMinute: 6 } });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('answers QUEUE_FULL past the queue depth and RATE_LIMITED with a retry time past the account rate', async () => {
    const alice = await registerDevice(limited);
    const bob = await registerDevice(limited);
    // Authenticating the upgrade is the first request of this minute.
    const socket = await connect(alice, limited);
    const codes: string[] = [];
    let retryAfter = 0;
    for (let i = 1; i <= 6; i++) {
      socket.send({ kind: 'send', requestId: i, accountId: bob.accountId, copies: [copyFor(bob)] });
      const answer = await socket.next();
      if (answer.kind === 'send-ok') codes.push('OK');
      else if (answer.kind === 'send-error') {
        codes.push(answer.code);
        if (answer.code === 'RATE_LIMITED') retryAfter = answer.retryAfter;
      } else throw new Error(`unexpected ${answer.kind}`);
    }
    expect(codes).toEqual(['OK', 'OK', 'QUEUE_FULL', 'QUEUE_FULL', 'QUEUE_FULL', 'RATE_LIMITED']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(await queuedIds(limited, bob)).toHaveLength(2);
  });
});

describe('GROUP_SEND over /v1/websocket', () => {
  const groupMessage = (content: Uint8Array = new Uint8Array(randomBytes(48))) =>
    encodeEnvelope({ type: EnvelopeType.GroupMessage, timestamp: Date.now(), content });

  /**
   * A real MLS group of `creator` and `others` on the server (the Delivery Service verifies what it orders), with
   * the Welcome that added them acknowledged: their queues are empty again.
   */
  async function group(creator: TestDevice, others: readonly TestDevice[]): Promise<string> {
    const mls = await MlsTestGroup.create(server, creator);
    await mls.post(server, await mls.add(creator, others));
    for (const device of others) {
      const ids = (await queuedIds(server, device)).map(String);
      await apiOk(server, 'POST', '/v1/messages/ack', { auth: device, body: { ids } });
    }
    return mls.groupId;
  }

  it('fans the envelope out to every other member device before GROUP_SEND_OK, pushing it live', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    const bob = await registerDevice(server);
    const groupId = await group(alice, [alice2, bob]);
    const bobSocket = await connect(bob);
    const aliceSocket = await connect(alice);

    const envelope = groupMessage(Uint8Array.of(4, 2));
    aliceSocket.send({ kind: 'group-send', requestId: 9, groupId, envelope });
    expect(await aliceSocket.nextOf('group-send-ok')).toEqual({ kind: 'group-send-ok', requestId: 9, stored: 2 });
    const pushed = await bobSocket.nextOf('envelope');
    expect([...pushed.envelope]).toEqual([...envelope]);
    expect(pushed.source).toEqual({ accountId: alice.accountId, deviceId: alice.deviceId });
    // Stored for the offline device too, never for the sender.
    expect(await queuedIds(server, alice2)).toHaveLength(1);
    expect(await queuedIds(server, alice)).toEqual([]);
  });

  it('answers with the HTTP route’s codes and stores nothing when refused', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const mallory = await registerDevice(server);
    const groupId = await group(alice, [bob]);
    const before = await queuedIds(server, bob);
    const socket = await connect(mallory);
    const refusal = async (frame: { groupId: string; envelope: Uint8Array }, client: FrameClient = socket) => {
      client.send({ kind: 'group-send', requestId: 3, ...frame });
      const answer = await client.nextOf('send-error');
      expect(answer.requestId).toBe(3);
      return answer.code;
    };
    expect(await refusal({ groupId, envelope: groupMessage() })).toBe('NOT_A_GROUP_MEMBER');
    expect(await refusal({ groupId: randomBytes(32).toString('hex'), envelope: groupMessage() })).toBe('GROUP_NOT_FOUND');
    const aliceSocket = await connect(alice);
    expect(await refusal({ groupId, envelope: testEnvelope() }, aliceSocket)).toBe('INVALID_ENVELOPE');
    expect(await refusal({ groupId, envelope: Uint8Array.of(1, 2, 3) }, aliceSocket)).toBe('INVALID_ENVELOPE');
    // Larger than the group envelope limit (1 MiB + 64): refused by size before it is decoded.
    const huge = new Uint8Array(1024 * 1024 + 100);
    expect(await refusal({ groupId, envelope: huge }, aliceSocket)).toBe('ENVELOPE_TOO_LARGE');
    expect(await queuedIds(server, bob)).toEqual(before);
    // The socket goes on: a good send still works.
    aliceSocket.send({ kind: 'group-send', requestId: 4, groupId, envelope: groupMessage() });
    expect((await aliceSocket.nextOf('group-send-ok')).stored).toBe(1);
  });
});
