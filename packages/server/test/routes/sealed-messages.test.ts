/**
 * Unidentified delivery (routes/messages.ts PUT /v1/sealed/messages/:accountId, sealed-sender/unidentified-access.ts):
 * a sealed send carries no credentials and is let in by the recipient's access key only; every copy is stored with no
 * sender; every refusal (wrong key, no key registered, no such account, no header) is the same INVALID_ACCESS_KEY and
 * stores nothing; an account that takes sealed envelopes from anyone takes any key; credentials on a sealed send, an
 * envelope that is not sealed, and a device list that does not fit are refused as for an identified send; the budget
 * per recipient holds; nothing logged names the recipient.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeType, encodeEnvelope } from '@samizdat/protocol';
import { api, apiOk, linkDevice, registerDevice, startServer } from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { b64, expectError } from '../helpers/http.js';

let server: TestServer;
let limited: TestServer;

beforeAll(async () => {
  [server, limited] = await Promise.all([startServer(), startServer({ limits: { sealedSendsPerRecipientBurst: 2, sealedSendsPerRecipientPerMinute: 1 } })]);
});

afterAll(async () => {
  await Promise.all([server?.close(), limited?.close()]);
});

const sealedEnvelope = () => encodeEnvelope({ type: EnvelopeType.SealedSender, timestamp: Date.now(), content: new Uint8Array(randomBytes(64)) });
const accessKey = () => new Uint8Array(randomBytes(16));

function body(devices: readonly Pick<TestDevice, 'deviceId' | 'registrationId'>[], envelope = sealedEnvelope) {
  return { messages: devices.map((d) => ({ deviceId: d.deviceId, registrationId: d.registrationId, envelope: b64(envelope()) })) };
}

function sealedSend(target: TestServer, accountId: string, key: Uint8Array | string | undefined, payload: unknown, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...extra };
  if (key !== undefined) headers['unidentified-access-key'] = typeof key === 'string' ? key : b64(key);
  return api(target, 'PUT', `/v1/sealed/messages/${accountId}`, { body: payload, headers });
}

async function setAccess(target: TestServer, device: TestDevice, key: Uint8Array, unrestricted = false): Promise<void> {
  await apiOk(target, 'PUT', '/v1/accounts/me/unidentified-access', { auth: device, body: { accessKey: b64(key), unrestricted } });
}

async function queued(target: TestServer, device: TestDevice): Promise<{ sourceAccountId?: string; sourceDeviceId?: number; envelope: string }[]> {
  return (await apiOk(target, 'GET', '/v1/messages', { auth: device })).messages;
}

describe('PUT /v1/sealed/messages/:accountId', () => {
  it('stores a copy for every device of the recipient, naming no sender, when the access key is right', async () => {
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const key = accessKey();
    await setAccess(server, bob, key);
    const payload = body([bob, bob2]);
    const res = await sealedSend(server, bob.accountId, key, payload);
    expect(res.status).toBe(200);
    expect(res.body.stored).toBe(2);
    for (const [device, copy] of [[bob, payload.messages[0]], [bob2, payload.messages[1]]] as const) {
      const got = await queued(server, device);
      expect(got).toHaveLength(1);
      expect(got[0]?.envelope).toBe(copy?.envelope);
      expect(got[0]).not.toHaveProperty('sourceAccountId');
      expect(got[0]).not.toHaveProperty('sourceDeviceId');
    }
  });

  it('answers every refusal alike with INVALID_ACCESS_KEY and stores nothing', async () => {
    const bob = await registerDevice(server);
    const carol = await registerDevice(server); // registered no access key
    const key = accessKey();
    await setAccess(server, bob, key);
    const refusals = [
      await sealedSend(server, bob.accountId, accessKey(), body([bob])),
      await sealedSend(server, bob.accountId, undefined, body([bob])),
      await sealedSend(server, bob.accountId, 'not base64!', body([bob])),
      await sealedSend(server, bob.accountId, b64(key.subarray(1)), body([bob])),
      await sealedSend(server, carol.accountId, key, body([carol])),
      await sealedSend(server, 'ab'.repeat(16), key, body([{ deviceId: 1, registrationId: 1 }])),
    ];
    for (const res of refusals) expectError(res, 'INVALID_ACCESS_KEY');
    // The same message for a wrong key, no key and no account: nothing tells which accounts exist.
    expect(new Set([refusals[0], refusals[4], refusals[5]].map((r) => JSON.stringify(r?.body))).size).toBe(1);
    expect(await queued(server, bob)).toEqual([]);
    expect(await queued(server, carol)).toEqual([]);
  });

  it('takes any key for an account that takes sealed envelopes from anyone, and account lookups say so', async () => {
    const bob = await registerDevice(server);
    const me = await registerDevice(server);
    expect((await apiOk(server, 'GET', `/v1/accounts/${bob.accountId}`, { auth: me })).unrestrictedAccess).toBeUndefined();
    await setAccess(server, bob, accessKey(), true);
    expect((await apiOk(server, 'GET', `/v1/accounts/${bob.accountId}`, { auth: me })).unrestrictedAccess).toBe(true);
    expect((await sealedSend(server, bob.accountId, accessKey(), body([bob]))).status).toBe(200);
    // Turned off again: only the key.
    const key = accessKey();
    await setAccess(server, bob, key, false);
    expectError(await sealedSend(server, bob.accountId, accessKey(), body([bob])), 'INVALID_ACCESS_KEY');
    expect((await sealedSend(server, bob.accountId, key, body([bob]))).status).toBe(200);
    expect(await queued(server, bob)).toHaveLength(2);
  });

  it('refuses credentials on a sealed send, an envelope that is not sealed, and a device list that does not fit', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const key = accessKey();
    await setAccess(server, bob, key);
    expectError(await api(server, 'PUT', `/v1/sealed/messages/${bob.accountId}`, { auth: alice, body: body([bob, bob2]), headers: { 'unidentified-access-key': b64(key) } }), 'BAD_REQUEST');
    const plain = () => encodeEnvelope({ type: EnvelopeType.Message, timestamp: Date.now(), content: new Uint8Array(32) });
    expectError(await sealedSend(server, bob.accountId, key, body([bob, bob2], plain)), 'INVALID_ENVELOPE');
    // The mismatch answer lists what an identified send's does (no device is the sender's own here).
    const mismatch = expectError(await sealedSend(server, bob.accountId, key, body([bob])), 'DEVICE_LIST_MISMATCH');
    expect(mismatch).toMatchObject({ missingDevices: [bob2.deviceId], extraDevices: [], staleDevices: [] });
    const stale = expectError(await sealedSend(server, bob.accountId, key, body([bob, { ...bob2, registrationId: bob2.registrationId + 1 }])), 'DEVICE_LIST_MISMATCH');
    expect(stale).toMatchObject({ missingDevices: [], extraDevices: [], staleDevices: [bob2.deviceId] });
    expect(await queued(server, bob)).toEqual([]);
  });

  it('limits sealed sends per recipient, whoever sends them, and not other recipients', async () => {
    const bob = await registerDevice(limited);
    const dave = await registerDevice(limited);
    const key = accessKey();
    await setAccess(limited, bob, key);
    await setAccess(limited, dave, key);
    expect((await sealedSend(limited, bob.accountId, key, body([bob]))).status).toBe(200);
    // A wrong key costs the recipient's budget too (it is taken before the account is read).
    expectError(await sealedSend(limited, bob.accountId, accessKey(), body([bob])), 'INVALID_ACCESS_KEY');
    const limitedRes = await sealedSend(limited, bob.accountId, key, body([bob]));
    expectError(limitedRes, 'RATE_LIMITED');
    expect(limitedRes.headers.get('retry-after')).not.toBeNull();
    expect((await sealedSend(limited, dave.accountId, key, body([dave]))).status).toBe(200);
  });

  it('logs nothing that names the recipient', async () => {
    const bob = await registerDevice(server);
    const key = accessKey();
    await setAccess(server, bob, key);
    const before = server.logs.length;
    await sealedSend(server, bob.accountId, key, body([bob]));
    await sealedSend(server, bob.accountId, accessKey(), body([bob]));
    expect(server.logs.slice(before).join('\n')).not.toContain(bob.accountId);
  });
});

describe('PUT /v1/accounts/me/unidentified-access', () => {
  it('needs credentials and a 16-byte key', async () => {
    const bob = await registerDevice(server);
    expectError(await api(server, 'PUT', '/v1/accounts/me/unidentified-access', { body: { accessKey: b64(accessKey()), unrestricted: false } }), 'UNAUTHORIZED');
    expectError(await api(server, 'PUT', '/v1/accounts/me/unidentified-access', { auth: bob, body: { accessKey: b64(new Uint8Array(15)), unrestricted: false } }), 'INVALID_KEY');
    expectError(await api(server, 'PUT', '/v1/accounts/me/unidentified-access', { auth: bob, body: { accessKey: b64(accessKey()) } }), 'VALIDATION_FAILED');
  });
});
