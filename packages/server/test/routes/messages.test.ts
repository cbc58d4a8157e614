import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config.js';
import { api, apiOk, deviceKeys, linkDevice, queuedIds, registerDevice, sendMessage, startServer, testEnvelope } from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { b64, expectError, rawRequest } from '../helpers/http.js';

let server: TestServer;
/** A server with small limits (queue depth, envelope and body size). */
let limited: TestServer;
/** The main server's clock: tests move it forward to expire envelopes. */
let clock = Date.now();

const LIMITS = { maxQueueDepth: 3, maxEnvelopeBytes: 512, maxSendBodyBytes: 8 * 1024 } as const;

beforeAll(async () => {
  [server, limited] = await Promise.all([startServer({ now: () => clock }), startServer({ limits: LIMITS })]);
});

afterAll(async () => {
  await Promise.all([server?.close(), limited?.close()]);
});

interface Queued {
  id: string;
  sourceAccountId?: string;
  sourceDeviceId?: number;
  envelope: string;
  receivedAt: number;
}

async function fetchQueue(device: TestDevice, query = '', target: TestServer = server): Promise<{ messages: Queued[]; more: boolean }> {
  return apiOk(target, 'GET', `/v1/messages${query}`, { auth: device });
}

/** The body of PUT /v1/messages/:accountId for `recipients`, one envelope each. */
function sendBody(recipients: readonly Pick<TestDevice, 'deviceId' | 'registrationId'>[], envelope: () => Uint8Array = () => testEnvelope()) {
  return { messages: recipients.map((r) => ({ deviceId: r.deviceId, registrationId: r.registrationId, envelope: b64(envelope()) })) };
}

async function ack(device: TestDevice, ids: readonly (string | bigint)[], target: TestServer = server): Promise<{ acknowledged: string[]; unknown: string[] }> {
  return apiOk(target, 'POST', '/v1/messages/ack', { auth: device, body: { ids: ids.map(String) } });
}

describe('PUT /v1/messages/:accountId', () => {
  it('stores one copy per device of the recipient, each for its own device only', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const envelopes = new Map([
      [1, testEnvelope(Uint8Array.of(1))],
      [2, testEnvelope(Uint8Array.of(2))],
    ]);
    const ids = await sendMessage(server, alice, [bob, bob2], (r) => envelopes.get(r.deviceId) as Uint8Array);
    expect(new Set(ids).size).toBe(2);
    for (const [device, id] of [[bob, ids[0]], [bob2, ids[1]]] as const) {
      const { messages } = await fetchQueue(device);
      const last = messages.at(-1);
      expect(last).toEqual({
        id: String(id),
        sourceAccountId: alice.accountId,
        sourceDeviceId: 1,
        envelope: b64(envelopes.get(device.deviceId) as Uint8Array),
        receivedAt: clock,
      });
    }
    expect(await queuedIds(server, alice)).toEqual([]);
  });

  it('sends a message to oneself to one’s other devices only', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    const alice3 = await linkDevice(server, alice);
    const ids = await sendMessage(server, alice2, [alice, alice3]);
    expect(await queuedIds(server, alice)).toEqual([ids[0]]);
    expect(await queuedIds(server, alice3)).toEqual([ids[1]]);
    expect(await queuedIds(server, alice2)).toEqual([]);
    // Addressing the sending device itself is an extra device.
    const res = await api(server, 'PUT', `/v1/messages/${alice.accountId}`, { auth: alice2, body: sendBody([alice, alice2, alice3]) });
    expect(expectError(res, 'DEVICE_LIST_MISMATCH')).toMatchObject({ missingDevices: [], extraDevices: [2], staleDevices: [] });
  });

  it('takes an empty sync copy to one’s own account only while one has no other device, and refuses one to others', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const empty = { messages: [] };
    // Alone: nothing to store, nothing refused.
    const alone = await api(server, 'PUT', `/v1/messages/${alice.accountId}`, { auth: alice, body: empty });
    expect(alone.status).toBe(200);
    expect(alone.body).toEqual({ stored: 0, ids: [] });
    // A device linked since: the empty send misses it, as any send that leaves a device out.
    const alice2 = await linkDevice(server, alice);
    const missing = await api(server, 'PUT', `/v1/messages/${alice.accountId}`, { auth: alice, body: empty });
    expect(expectError(missing, 'DEVICE_LIST_MISMATCH')).toMatchObject({ missingDevices: [2], extraDevices: [], staleDevices: [] });
    // To another account a send carries at least one envelope.
    const toBob = await api(server, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body: empty });
    expectError(toBob, 'BAD_REQUEST');
    for (const device of [alice, alice2, bob]) expect(await queuedIds(server, device)).toEqual([]);
  });

  it('rejects a send that misses devices or names extra ones with DEVICE_LIST_MISMATCH and the exact lists', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const bob3 = await linkDevice(server, bob);
    const missing = await api(server, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body: sendBody([bob2]) });
    expect(expectError(missing, 'DEVICE_LIST_MISMATCH')).toMatchObject({ missingDevices: [1, 3], extraDevices: [], staleDevices: [] });
    const ghost = { deviceId: 7, registrationId: 1234 };
    const extra = await api(server, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body: sendBody([bob, bob2, bob3, ghost]) });
    expect(expectError(extra, 'DEVICE_LIST_MISMATCH')).toMatchObject({ missingDevices: [], extraDevices: [7], staleDevices: [] });
    for (const device of [bob, bob2, bob3]) expect(await queuedIds(server, device)).toEqual([]);
  });

  it('rejects a send whose device list is stale (a registration id that is not the device\'s) with the stale device listed', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const bob3 = await linkDevice(server, bob);
    // Device ids are never reused (a replaced device gets a new id), so a stale registration id comes from a sender
    // whose record of the device is wrong, or from an older server that reused ids.
    const oldBob3 = { deviceId: bob3.deviceId, registrationId: bob3.registrationId === 1 ? 2 : bob3.registrationId - 1 };

    const stale = await api(server, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body: sendBody([bob, bob2, oldBob3]) });
    expect(expectError(stale, 'DEVICE_LIST_MISMATCH')).toMatchObject({ missingDevices: [], extraDevices: [], staleDevices: [3] });

    // All three kinds at once: device 2 missing, device 3 stale, device 9 extra.
    const all = await api(server, 'PUT', `/v1/messages/${bob.accountId}`, {
      auth: alice,
      body: sendBody([bob, oldBob3, { deviceId: 9, registrationId: 99 }]),
    });
    const body = expectError(all, 'DEVICE_LIST_MISMATCH');
    expect({ missing: body.missingDevices, extra: body.extraDevices, stale: body.staleDevices }).toEqual({ missing: [2], extra: [9], stale: [3] });

    for (const device of [bob, bob2, bob3]) expect(await queuedIds(server, device)).toEqual([]);
    // With the current list the send goes through.
    expect(await sendMessage(server, alice, [bob, bob2, bob3])).toHaveLength(3);
  });

  it('checks sends against a cached device list that links and removals on this node or the bus refresh', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const { repo, bus } = server.app.ctx;
    const listDevices = vi.spyOn(repo, 'listDevices');
    try {
      await sendMessage(server, bob, [alice]);
      await sendMessage(server, bob, [alice]);
      expect(listDevices.mock.calls.filter(([id]) => id === alice.accountId)).toHaveLength(1);
    } finally {
      listDevices.mockRestore();
    }
    // Linked through this node: the next send must name it.
    const alice2 = await linkDevice(server, alice);
    const missing = await api(server, 'PUT', `/v1/messages/${alice.accountId}`, { auth: bob, body: sendBody([alice]) });
    expect(expectError(missing, 'DEVICE_LIST_MISMATCH')).toMatchObject({ missingDevices: [2], extraDevices: [], staleDevices: [] });
    await sendMessage(server, bob, [alice, alice2]);
    // Removed by another node, which announces it on the bus.
    expect(await repo.removeDevice(alice.accountId, alice2.deviceId)).toBe(true);
    bus.publishRemoved({ accountId: alice.accountId, deviceId: alice2.deviceId });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const extra = await api(server, 'PUT', `/v1/messages/${alice.accountId}`, { auth: bob, body: sendBody([alice, alice2]) });
    expect(expectError(extra, 'DEVICE_LIST_MISMATCH')).toMatchObject({ missingDevices: [], extraDevices: [2], staleDevices: [] });
  });

  it('does not refuse a send because of a cached list that misses a device linked on another node', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    await sendMessage(server, bob, [alice]);
    // Another node links device 2: this node's cached list does not have it yet, the database does.
    const keys = await deviceKeys(alice.identity);
    const deviceId = await server.app.ctx.repo.addDevice(
      alice.accountId,
      { registrationId: keys.registrationId, authHash: 'unused', encryptedName: new Uint8Array(0), createdAt: clock },
      10,
    );
    const [, id] = await sendMessage(server, bob, [alice, { accountId: alice.accountId, deviceId, registrationId: keys.registrationId }]);
    expect(await server.app.ctx.repo.queueDepth(alice.accountId, deviceId)).toBe(1);
    expect(id).toBeDefined();
  });

  it('rejects a device named twice with BAD_REQUEST', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    expectError(await api(server, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body: sendBody([bob, bob]) }), 'BAD_REQUEST');
    expect(await queuedIds(server, bob)).toEqual([]);
  });

  it('rejects envelopes that do not decode with INVALID_ENVELOPE, storing no copy at all', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const valid = testEnvelope();
    const bad = [
      new Uint8Array(0),
      new Uint8Array(randomBytes(64)).fill(0x09, 0, 1),
      Uint8Array.of(2, ...valid.subarray(1)), // an unknown version
      Uint8Array.of(...valid, 0), // trailing bytes
      valid.subarray(0, valid.length - 1), // truncated
      Uint8Array.of(1, 9, ...valid.subarray(2)), // an unknown type
    ];
    for (const envelope of bad) {
      const body = { messages: [{ deviceId: 1, registrationId: bob.registrationId, envelope: b64(valid) }, { deviceId: 2, registrationId: bob2.registrationId, envelope: b64(envelope) }] };
      expectError(await api(server, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body }), 'INVALID_ENVELOPE');
    }
    expect(await queuedIds(server, bob)).toEqual([]);
    expect(await queuedIds(server, bob2)).toEqual([]);
  });

  it('rejects bad send requests with their codes and keeps what was queued', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const [kept] = await sendMessage(server, alice, [bob]);
    const path = `/v1/messages/${bob.accountId}`;
    const good = sendBody([bob]);
    const one = good.messages[0] as Record<string, unknown>;
    const cases: [string, unknown][] = [
      ['VALIDATION_FAILED', {}],
      ['BAD_REQUEST', { messages: [] }], // only a sync copy to one's own account may be empty
      ['VALIDATION_FAILED', { messages: one }],
      ['VALIDATION_FAILED', { messages: [{ ...one, deviceId: '1' }] }],
      ['VALIDATION_FAILED', { messages: [{ ...one, deviceId: true }] }],
      ['VALIDATION_FAILED', { messages: [{ ...one, registrationId: undefined }] }],
      ['VALIDATION_FAILED', { messages: [{ ...one, envelope: 7 }] }],
      ['VALIDATION_FAILED', { messages: [{ ...one, envelope: 'not base64!' }] }],
      ['VALIDATION_FAILED', { messages: [{ ...one, urgent: true }] }],
      ['VALIDATION_FAILED', { ...good, timestamp: 1 }],
      ['INVALID_BASE64', { messages: [{ ...one, envelope: 'ab+_cd' }] }],
    ];
    for (const [code, body] of cases) expectError(await api(server, 'PUT', path, { auth: alice, body }), code as 'VALIDATION_FAILED');
    expectError(await rawRequest(server, 'PUT', path, { auth: alice, json: '{"messages": [}' }), 'INVALID_JSON');
    expectError(await rawRequest(server, 'PUT', path, { auth: alice, body: 'messages', headers: { 'content-type': 'text/plain' } }), 'VALIDATION_FAILED');
    expectError(await api(server, 'PUT', path, { body: good }), 'UNAUTHORIZED');
    expectError(await api(server, 'PUT', `/v1/messages/${randomBytes(16).toString('hex')}`, { auth: alice, body: good }), 'ACCOUNT_NOT_FOUND');
    expectError(await api(server, 'PUT', '/v1/messages/bob', { auth: alice, body: good }), 'VALIDATION_FAILED');
    expect(await queuedIds(server, bob)).toEqual([kept]);
  });

  it('rejects an envelope over the size limit with ENVELOPE_TOO_LARGE and a body over its limit with PAYLOAD_TOO_LARGE', async () => {
    const alice = await registerDevice(limited);
    const bob = await registerDevice(limited);
    const [kept] = await sendMessage(limited, alice, [bob], () => testEnvelope(new Uint8Array(LIMITS.maxEnvelopeBytes - 20)));
    const tooLarge = testEnvelope(new Uint8Array(LIMITS.maxEnvelopeBytes));
    expect(tooLarge.length).toBeGreaterThan(LIMITS.maxEnvelopeBytes);
    const res = await api(limited, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body: sendBody([bob], () => tooLarge) });
    expectError(res, 'ENVELOPE_TOO_LARGE');
    const body = { ...sendBody([bob]), padding: 'x'.repeat(LIMITS.maxSendBodyBytes) };
    expectError(await api(limited, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body }), 'PAYLOAD_TOO_LARGE');
    expect(await queuedIds(limited, bob)).toEqual([kept]);
    expect(DEFAULT_LIMITS.maxEnvelopeBytes).toBeGreaterThan(LIMITS.maxEnvelopeBytes);
  });

  it('answers QUEUE_FULL when a recipient queue is at its depth limit, storing no copy for the other devices', async () => {
    const alice = await registerDevice(limited);
    const bob = await registerDevice(limited);
    const bob2 = await linkDevice(limited, bob);
    // Bob's device 1 has one envelope more than device 2.
    const [first] = await sendMessage(limited, bob2, [bob]);
    await sendMessage(limited, alice, [bob, bob2]);
    await sendMessage(limited, alice, [bob, bob2]);
    expect(await queuedIds(limited, bob)).toHaveLength(3);
    const res = await api(limited, 'PUT', `/v1/messages/${bob.accountId}`, { auth: alice, body: sendBody([bob, bob2]) });
    expectError(res, 'QUEUE_FULL');
    expect(await queuedIds(limited, bob)).toHaveLength(3);
    expect(await queuedIds(limited, bob2)).toHaveLength(2);
    // Acknowledging one makes room again.
    expect((await ack(bob, [first as bigint], limited)).acknowledged).toEqual([String(first)]);
    expect(await sendMessage(limited, alice, [bob, bob2])).toHaveLength(2);
    expect(await queuedIds(limited, bob)).toHaveLength(3);
  });
});

describe('GET /v1/messages', () => {
  it('returns the queue in id order, 100 at a time, continuing after a cursor', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const ids: bigint[] = [];
    for (let batch = 0; batch < 5; batch++) {
      ids.push(...(await Promise.all(Array.from({ length: 25 }, () => sendMessage(server, alice, [bob])))).flat());
    }
    ids.sort((a, b) => (a < b ? -1 : 1));
    const first = await fetchQueue(bob);
    expect(first.more).toBe(true);
    expect(first.messages.map((m) => BigInt(m.id))).toEqual(ids.slice(0, 100));
    const rest = await fetchQueue(bob, `?after=${first.messages.at(-1)?.id}`);
    expect(rest.more).toBe(false);
    expect(rest.messages.map((m) => BigInt(m.id))).toEqual(ids.slice(100));
  });

  it('long-polls: returns as soon as a message is sent', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const started = Date.now();
    const poll = fetchQueue(bob, '?wait=2');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [id] = await sendMessage(server, alice, [bob]);
    const { messages } = await poll;
    const elapsed = Date.now() - started;
    expect(messages.map((m) => m.id)).toEqual([String(id)]);
    expect(elapsed).toBeLessThan(1500);
  });

  it('long-polls an empty queue for `wait` seconds, then answers with no messages', async () => {
    const bob = await registerDevice(server);
    const started = Date.now();
    const { messages, more } = await fetchQueue(bob, '?wait=1');
    expect({ messages, more }).toEqual({ messages: [], more: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('rejects bad queries with VALIDATION_FAILED and missing credentials with UNAUTHORIZED', async () => {
    const bob = await registerDevice(server);
    for (const query of ['?wait=61', '?wait=-1', '?wait=abc', '?after=x', '?after=-1', '?after=12345678901234567890', '?limit=5']) {
      expectError(await api(server, 'GET', `/v1/messages${query}`, { auth: bob }), 'VALIDATION_FAILED');
    }
    expectError(await api(server, 'GET', '/v1/messages'), 'UNAUTHORIZED');
  });

  it('no longer returns envelopes past their age limit, nor lets them be acknowledged', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const [old] = await sendMessage(server, alice, [bob]);
    clock += DEFAULT_LIMITS.maxQueueAgeMs - 1000;
    const [young] = await sendMessage(server, alice, [bob]);
    expect(await queuedIds(server, bob)).toEqual([old, young]);
    clock += 1000;
    expect(await queuedIds(server, bob)).toEqual([young]);
    // The expiry sweep deletes it for good.
    expect(await server.app.ctx.repo.deleteExpiredEnvelopes(clock)).toBeGreaterThanOrEqual(1);
    expect(await ack(bob, [old as bigint])).toEqual({ acknowledged: [], unknown: [String(old)] });
    expect(await queuedIds(server, bob)).toEqual([young]);
  });
});

describe('POST /v1/messages/ack', () => {
  it('deletes acknowledged envelopes; a second ack of the same id reports it unknown', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const ids = [...(await sendMessage(server, alice, [bob])), ...(await sendMessage(server, alice, [bob]))];
    expect(await ack(bob, [ids[0] as bigint])).toEqual({ acknowledged: [String(ids[0])], unknown: [] });
    expect(await queuedIds(server, bob)).toEqual([ids[1]]);
    expect(await ack(bob, [ids[0] as bigint])).toEqual({ acknowledged: [], unknown: [String(ids[0])] });
    // Repeats within one request count once.
    expect(await ack(bob, [ids[1] as bigint, ids[1] as bigint])).toEqual({ acknowledged: [String(ids[1])], unknown: [] });
    expect(await queuedIds(server, bob)).toEqual([]);
  });

  it('deletes nothing when a device acknowledges another device’s envelopes, and lists them as unknown', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const carol = await registerDevice(server);
    const [forBob, forBob2] = await sendMessage(server, alice, [bob, bob2]);
    const [forCarol] = await sendMessage(server, alice, [carol]);
    const theirs = [forBob2, forCarol].map(String);
    expect(await ack(bob, [forBob as bigint, ...theirs])).toEqual({ acknowledged: [String(forBob)], unknown: theirs });
    expect(await ack(alice, theirs)).toEqual({ acknowledged: [], unknown: theirs });
    expect(await queuedIds(server, bob2)).toEqual([forBob2]);
    expect(await queuedIds(server, carol)).toEqual([forCarol]);
  });

  it('rejects malformed acks with their codes and deletes nothing', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const [id] = await sendMessage(server, alice, [bob]);
    const cases: unknown[] = [{}, { ids: [] }, { ids: String(id) }, { ids: [Number(id)] }, { ids: ['-1'] }, { ids: ['1e3'] }, { ids: ['1'.repeat(20)] }, { ids: [String(id)], all: true }, { ids: Array.from({ length: 1001 }, (_, i) => String(i + 1)) }];
    for (const body of cases) expectError(await api(server, 'POST', '/v1/messages/ack', { auth: bob, body }), 'VALIDATION_FAILED');
    expectError(await rawRequest(server, 'POST', '/v1/messages/ack', { auth: bob, json: '{"ids": ["1"' }), 'INVALID_JSON');
    expectError(await api(server, 'POST', '/v1/messages/ack', { body: { ids: [String(id)] } }), 'UNAUTHORIZED');
    // Ids beyond any stored one are simply unknown.
    expect(await ack(bob, ['9'.repeat(19), '0'])).toEqual({ acknowledged: [], unknown: ['9'.repeat(19), '0'] });
    expect(await queuedIds(server, bob)).toEqual([id]);
  });
});
