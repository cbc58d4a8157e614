import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateIdentityKeyPair } from '@samizdat/protocol';
import { api, apiOk, crypto, deviceKeys, linkDevice, queuedIds, registerDevice, sendMessage, startServer } from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { expectError, rawRequest } from '../helpers/http.js';
import { HOUR_MS, toDay, toHour } from '../../src/coarse-time.js';

const LINK_CODE_TTL_MS = 10 * 60 * 1000;

let server: TestServer;
/** The server's clock: tests move it forward to expire link codes. */
let clock = Date.now();

beforeAll(async () => {
  server = await startServer({ now: () => clock, limits: { maxDevicesPerAccount: 3 } });
});

afterAll(async () => {
  await server.close();
});

async function linkCode(device: TestDevice): Promise<{ code: string; expiresAt: number }> {
  return apiOk(server, 'POST', '/v1/devices/link-code', { auth: device });
}

async function deviceIds(device: TestDevice): Promise<number[]> {
  const { devices } = await apiOk<{ devices: { deviceId: number }[] }>(server, 'GET', '/v1/devices', { auth: device });
  return devices.map((d) => d.deviceId);
}

describe('POST /v1/devices/link-code and /v1/devices/link', () => {
  it('links a new device that authenticates, is listed and has its own prekeys', async () => {
    const alice = await registerDevice(server);
    const { code, expiresAt } = await linkCode(alice);
    expect(code).toMatch(/^[A-Za-z0-9_-]{22,64}$/);
    expect(expiresAt).toBe(clock + LINK_CODE_TTL_MS);
    const keys = await deviceKeys(alice.identity, { oneTimePreKeys: 3, kyberPreKeys: 2 });
    const name = Buffer.from(randomBytes(40)).toString('base64');
    const linked = await apiOk(server, 'POST', '/v1/devices/link', { body: { code, ...keys, name } });
    expect(linked).toEqual({ accountId: alice.accountId, deviceId: 2 });
    const alice2 = { accountId: alice.accountId, deviceId: 2, password: keys.password };
    expect(await apiOk(server, 'GET', '/v1/accounts/me', { auth: alice2 })).toMatchObject({ accountId: alice.accountId, deviceId: 2 });
    expect(await apiOk(server, 'GET', '/v1/keys/count', { auth: alice2 })).toEqual({ oneTime: 3, kyberOneTime: 2 });
    const { devices } = await apiOk(server, 'GET', '/v1/devices', { auth: alice });
    expect(devices).toEqual([
      expect.objectContaining({ deviceId: 1, registrationId: alice.registrationId, name: '' }),
      // Stored coarse (docs/threat-model.md): created to the hour; last seen to the day, from the first fetch on.
      { deviceId: 2, registrationId: keys.registrationId, name, createdAt: toHour(clock), lastSeenAt: toHour(clock) },
    ]);
    await apiOk(server, 'GET', '/v1/messages', { auth: alice2 });
    const after = await apiOk<{ devices: { deviceId: number; lastSeenAt: number }[] }>(server, 'GET', '/v1/devices', { auth: alice });
    expect(after.devices.find((d) => d.deviceId === 2)?.lastSeenAt).toBe(toDay(clock));
    const stored = await server.app.ctx.repo.getAccount(alice.accountId);
    expect((stored?.createdAt ?? 1) % HOUR_MS).toBe(0);
  });

  it('accepts a link code only once', async () => {
    const alice = await registerDevice(server);
    const { code } = await linkCode(alice);
    await apiOk(server, 'POST', '/v1/devices/link', { body: { code, ...(await deviceKeys(alice.identity)) } });
    expectError(await api(server, 'POST', '/v1/devices/link', { body: { code, ...(await deviceKeys(alice.identity)) } }), 'LINK_CODE_INVALID');
    expect(await deviceIds(alice)).toEqual([1, 2]);
  });

  it('accepts a link code until it expires after 10 minutes, and not after', async () => {
    const alice = await registerDevice(server);
    const early = await linkCode(alice);
    const late = await linkCode(alice);
    clock += LINK_CODE_TTL_MS - 1;
    await apiOk(server, 'POST', '/v1/devices/link', { body: { code: early.code, ...(await deviceKeys(alice.identity)) } });
    clock += 1;
    expectError(await api(server, 'POST', '/v1/devices/link', { body: { code: late.code, ...(await deviceKeys(alice.identity)) } }), 'LINK_CODE_INVALID');
    expect(await deviceIds(alice)).toEqual([1, 2]);
  });

  it('answers an unknown link code with LINK_CODE_INVALID and a malformed one with VALIDATION_FAILED', async () => {
    const alice = await registerDevice(server);
    const keys = await deviceKeys(alice.identity);
    expectError(await api(server, 'POST', '/v1/devices/link', { body: { code: randomBytes(24).toString('base64url'), ...keys } }), 'LINK_CODE_INVALID');
    for (const code of ['short', 'x'.repeat(65), 'has spaces in it and is long enough', 42]) {
      expectError(await api(server, 'POST', '/v1/devices/link', { body: { code, ...keys } }), 'VALIDATION_FAILED');
    }
    expect(await deviceIds(alice)).toEqual([1]);
  });

  it('rejects malformed link requests with their codes and keeps the account as it was', async () => {
    const alice = await registerDevice(server);
    const other = await generateIdentityKeyPair(crypto);
    const cases: [string, (body: Record<string, any>) => void][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any -- reshaping
      ['VALIDATION_FAILED', (b) => delete b.password],
      ['VALIDATION_FAILED', (b) => (b.password = 'too-short')],
      ['VALIDATION_FAILED', (b) => (b.registrationId = String(b.registrationId))],
      ['VALIDATION_FAILED', (b) => (b.deviceId = 5)],
      ['VALIDATION_FAILED', (b) => delete b.signedPreKey],
      ['INVALID_KEY', (b) => (b.signedPreKey.publicKey = Buffer.alloc(31).toString('base64'))],
      ['INVALID_BASE64', (b) => (b.name = 'ab+_')],
    ];
    for (const [code, edit] of cases) {
      const body: Record<string, any> = { code: (await linkCode(alice)).code, ...(await deviceKeys(alice.identity)) }; // eslint-disable-line @typescript-eslint/no-explicit-any -- reshaping
      edit(body);
      expectError(await api(server, 'POST', '/v1/devices/link', { body }), code as 'VALIDATION_FAILED');
    }
    // Keys signed by another identity than the account's.
    const foreign = await deviceKeys(other);
    expectError(await api(server, 'POST', '/v1/devices/link', { body: { code: (await linkCode(alice)).code, ...foreign } }), 'BAD_SIGNATURE');
    expectError(await rawRequest(server, 'POST', '/v1/devices/link', { json: '{"code": "' }), 'INVALID_JSON');
    expect(await deviceIds(alice)).toEqual([1]);
    // The account still links devices normally.
    await linkDevice(server, alice);
    expect(await deviceIds(alice)).toEqual([1, 2]);
  });

  it('refuses a device beyond the account’s limit with TOO_MANY_DEVICES', async () => {
    const alice = await registerDevice(server);
    await linkDevice(server, alice);
    await linkDevice(server, alice);
    const { code } = await linkCode(alice);
    expectError(await api(server, 'POST', '/v1/devices/link', { body: { code, ...(await deviceKeys(alice.identity)) } }), 'TOO_MANY_DEVICES');
    expect(await deviceIds(alice)).toEqual([1, 2, 3]);
  });

  it('requires authentication for a link code', async () => {
    expectError(await api(server, 'POST', '/v1/devices/link-code'), 'UNAUTHORIZED');
  });
});

describe('GET /v1/devices', () => {
  it('lists only the authenticated account’s devices', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    await linkDevice(server, bob);
    expect(await deviceIds(alice)).toEqual([1]);
    expect(await deviceIds(bob)).toEqual([1, 2]);
    expectError(await api(server, 'GET', '/v1/devices'), 'UNAUTHORIZED');
  });
});

describe('DELETE /v1/devices/:deviceId', () => {
  it('removes a device with its keys and queue; it no longer authenticates', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    const bob = await registerDevice(server);
    await sendMessage(server, bob, [alice, alice2]);
    expect((await api(server, 'DELETE', '/v1/devices/2', { auth: alice })).status).toBe(204);
    expect(await deviceIds(alice)).toEqual([1]);
    expectError(await api(server, 'GET', '/v1/accounts/me', { auth: alice2 }), 'UNAUTHORIZED');
    const { repo } = server.app.ctx;
    expect(await repo.queueDepth(alice.accountId, 2)).toBe(0);
    expect(await repo.keys.countPreKeys(alice.accountId, 2)).toEqual({ oneTime: 0, kyberOneTime: 0 });
    expectError(await api(server, 'GET', `/v1/keys/${alice.accountId}/2`, { auth: bob }), 'DEVICE_NOT_FOUND');
    // Device 1 keeps its queue.
    expect(await queuedIds(server, alice)).toHaveLength(1);
  });

  it('lets a device remove itself', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    expect((await api(server, 'DELETE', '/v1/devices/2', { auth: alice2 })).status).toBe(204);
    expectError(await api(server, 'GET', '/v1/devices', { auth: alice2 }), 'UNAUTHORIZED');
    expect(await deviceIds(alice)).toEqual([1]);
  });

  it('never reuses the id of a removed device, not even the highest one', async () => {
    const alice = await registerDevice(server);
    const old = await linkDevice(server, alice);
    expect((await api(server, 'DELETE', '/v1/devices/2', { auth: alice })).status).toBe(204);
    const fresh = await linkDevice(server, alice);
    // Sessions with device 2 and its group leaves belong to the removed device (issue 13): the new one is 3.
    expect(old.deviceId).toBe(2);
    expect(fresh.deviceId).toBe(3);
    expect(await deviceIds(alice)).toEqual([1, 3]);
    const { devices } = await apiOk(server, 'GET', '/v1/devices', { auth: alice });
    expect(devices.map((d: { registrationId: number }) => d.registrationId)).toEqual([alice.registrationId, fresh.registrationId]);
    // The removed registration's secret does not open the new device.
    expectError(await api(server, 'GET', '/v1/accounts/me', { auth: old }), 'UNAUTHORIZED');
  });

  it('caches device rows for authentication, and forgets them when a device is removed here or on another node', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    const alice3 = await linkDevice(server, alice);
    const { repo, bus } = server.app.ctx;
    const getDevice = vi.spyOn(repo, 'getDevice');
    try {
      await apiOk(server, 'GET', '/v1/devices', { auth: alice2 });
      await apiOk(server, 'GET', '/v1/devices', { auth: alice2 });
      expect(getDevice.mock.calls.filter(([, id]) => id === alice2.deviceId)).toHaveLength(1);
    } finally {
      getDevice.mockRestore();
    }
    // Removed through this node: refused at once, although its row was cached.
    expect((await api(server, 'DELETE', `/v1/devices/${alice2.deviceId}`, { auth: alice })).status).toBe(204);
    expectError(await api(server, 'GET', '/v1/devices', { auth: alice2 }), 'UNAUTHORIZED');
    // Removed by another node, which announces it on the bus.
    await apiOk(server, 'GET', '/v1/devices', { auth: alice3 });
    expect(await repo.removeDevice(alice.accountId, alice3.deviceId)).toBe(true);
    bus.publishRemoved({ accountId: alice.accountId, deviceId: alice3.deviceId });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expectError(await api(server, 'GET', '/v1/devices', { auth: alice3 }), 'UNAUTHORIZED');
  });

  it('sees a removal it was not told about once the cached row is a second old', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    await apiOk(server, 'GET', '/v1/devices', { auth: alice2 });
    expect(await server.app.ctx.repo.removeDevice(alice.accountId, alice2.deviceId)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expectError(await api(server, 'GET', '/v1/devices', { auth: alice2 }), 'UNAUTHORIZED');
  });

  it('answers an unknown device, or another account’s device, with DEVICE_NOT_FOUND and removes nothing', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    expectError(await api(server, 'DELETE', '/v1/devices/7', { auth: alice }), 'DEVICE_NOT_FOUND');
    // Device 2 exists, but in Bob's account: the path names a device of the caller's own account.
    expectError(await api(server, 'DELETE', '/v1/devices/2', { auth: alice }), 'DEVICE_NOT_FOUND');
    expect(await deviceIds(bob)).toEqual([1, 2]);
    expect(await apiOk(server, 'GET', '/v1/accounts/me', { auth: bob2 })).toMatchObject({ deviceId: 2 });
  });

  it('rejects malformed device ids with VALIDATION_FAILED and missing credentials with UNAUTHORIZED', async () => {
    const alice = await registerDevice(server);
    for (const id of ['0', '-1', 'abc', '1.5', '10000']) {
      expectError(await api(server, 'DELETE', `/v1/devices/${id}`, { auth: alice }), 'VALIDATION_FAILED');
    }
    expectError(await api(server, 'DELETE', '/v1/devices/1'), 'UNAUTHORIZED');
    expect(await deviceIds(alice)).toEqual([1]);
  });
});

describe('PUT /v1/provisioning/:address', () => {
  const address = randomBytes(32).toString('base64url');

  it('relays a provisioning message even when no socket listens (fire and forget)', async () => {
    const alice = await registerDevice(server);
    const res = await api(server, 'PUT', `/v1/provisioning/${address}`, { auth: alice, body: { body: randomBytes(100).toString('base64') } });
    expect(res.status).toBe(204);
  });

  it('rejects bad provisioning requests with their codes', async () => {
    const alice = await registerDevice(server);
    const body = { body: randomBytes(100).toString('base64') };
    expectError(await api(server, 'PUT', `/v1/provisioning/${address}`, { body }), 'UNAUTHORIZED');
    expectError(await api(server, 'PUT', '/v1/provisioning/too-short', { auth: alice, body }), 'VALIDATION_FAILED');
    expectError(await api(server, 'PUT', `/v1/provisioning/${address}`, { auth: alice, body: { body: 'ab+_' } }), 'INVALID_BASE64');
    expectError(await api(server, 'PUT', `/v1/provisioning/${address}`, { auth: alice, body: { body: 5 } }), 'VALIDATION_FAILED');
    expectError(await api(server, 'PUT', `/v1/provisioning/${address}`, { auth: alice, body: { ...body, extra: true } }), 'VALIDATION_FAILED');
    const big = { body: randomBytes(64 * 1024 + 1).toString('base64') };
    expectError(await api(server, 'PUT', `/v1/provisioning/${address}`, { auth: alice, body: big }), 'PAYLOAD_TOO_LARGE');
    const huge = { body: 'A'.repeat(300 * 1024) };
    expectError(await api(server, 'PUT', `/v1/provisioning/${address}`, { auth: alice, body: huge }), 'PAYLOAD_TOO_LARGE');
  });
});
