import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeType, decodeEnvelope, encodeEnvelope } from '@samizdat/protocol';
import { api, apiOk, linkDevice, registerDevice, startServer } from '../helpers/server.js';
import type { ApiResponse, TestDevice, TestServer } from '../helpers/server.js';
import type { ErrorCode } from '../../src/errors.js';
import { b64, expectError } from '../helpers/http.js';
import { connectDevice } from '../helpers/ws-client.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.close();
});

const groupEnvelope = (type: number, content: Uint8Array = new Uint8Array(randomBytes(64))) =>
  b64(encodeEnvelope({ type: type as EnvelopeType, timestamp: Date.now(), content }));
const member = (d: TestDevice) => ({ accountId: d.accountId, deviceId: d.deviceId });
const newGroupId = () => randomBytes(32).toString('hex');

async function fails(response: Promise<ApiResponse>, status: number, code: ErrorCode): Promise<void> {
  const res = await response;
  expect(res.status).toBe(status);
  expectError(res, code);
}

async function queue(device: TestDevice): Promise<{ type: number; content: Uint8Array; source: string }[]> {
  const res = await apiOk<{ messages: { envelope: string; sourceAccountId: string; sourceDeviceId: number }[] }>(server, 'GET', '/v1/messages', { auth: device });
  return res.messages.map((m) => {
    const env = decodeEnvelope(new Uint8Array(Buffer.from(m.envelope, 'base64')));
    return { type: env.type, content: env.content, source: `${m.sourceAccountId}.${m.sourceDeviceId}` };
  });
}

async function createGroup(creator: TestDevice): Promise<string> {
  const groupId = newGroupId();
  await apiOk(server, 'POST', '/v1/groups', { auth: creator, body: { groupId, epoch: 0, groupInfo: b64(new Uint8Array([1, 2, 3])) } });
  return groupId;
}

function commitBody(epoch: number, members: TestDevice[], welcome = true) {
  return {
    epoch,
    commit: groupEnvelope(EnvelopeType.GroupMessage),
    ...(welcome ? { welcome: groupEnvelope(EnvelopeType.GroupWelcome) } : {}),
    groupInfo: b64(new Uint8Array(randomBytes(100))),
    members: members.map(member),
  };
}

describe('groups: the MLS Delivery Service', () => {
  it('orders commits per epoch, fans out commits, Welcomes and application messages, and pushes them live', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    const bob = await registerDevice(server);
    const groupId = await createGroup(alice);
    const socket = await connectDevice(server, bob);
    await socket.nextOf('queue-empty');

    const add = await apiOk<{ epoch: number; stored: number }>(server, 'POST', `/v1/groups/${groupId}/commits`, {
      auth: alice,
      body: commitBody(0, [alice, alice2, bob]),
    });
    expect(add).toEqual({ epoch: 1, stored: 2 });
    const pushed = await socket.nextOf('envelope');
    expect(decodeEnvelope(pushed.envelope).type).toBe(EnvelopeType.GroupWelcome);
    expect(pushed.source).toEqual({ accountId: alice.accountId, deviceId: alice.deviceId });
    expect((await queue(alice2)).map((q) => q.type)).toEqual([EnvelopeType.GroupWelcome]);

    // Bob's commit made in epoch 0 comes too late.
    const stale = await api(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: bob, body: commitBody(0, [alice, alice2, bob], false) });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ code: 'STALE_EPOCH', epoch: 1 });
    // After processing Alice's commit he retries in epoch 1 and wins.
    expect((await apiOk(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: bob, body: commitBody(1, [alice, alice2, bob], false) })).epoch).toBe(2);

    const text = groupEnvelope(EnvelopeType.GroupMessage, new Uint8Array([9, 9, 9]));
    expect(await apiOk(server, 'PUT', `/v1/groups/${groupId}/messages`, { auth: alice2, body: { envelope: text } })).toEqual({ stored: 2 });
    const live = await socket.nextOf('envelope');
    expect([...decodeEnvelope(live.envelope).content]).toEqual([9, 9, 9]);
    expect((await queue(alice)).map((q) => [q.type, q.source])).toEqual([
      [EnvelopeType.GroupMessage, `${bob.accountId}.${bob.deviceId}`],
      [EnvelopeType.GroupMessage, `${alice2.accountId}.${alice2.deviceId}`],
    ]);

    const info = await apiOk<{ epoch: number; members: unknown[] }>(server, 'GET', `/v1/groups/${groupId}`, { auth: bob });
    expect(info.epoch).toBe(2);
    expect(info.members).toHaveLength(3);
    expect((await apiOk<{ groups: unknown[] }>(server, 'GET', '/v1/groups', { auth: alice2 })).groups).toEqual([{ groupId, epoch: 2 }]);
    await socket.close();
  });

  it('lets a new device of a member account join by external commit, and nobody else', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const groupId = await createGroup(alice);
    await apiOk(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: alice, body: commitBody(0, [alice, bob]) });
    const bob2 = await linkDevice(server, bob);
    expect((await apiOk<{ groups: { groupId: string }[] }>(server, 'GET', '/v1/groups', { auth: bob2 })).groups.map((g) => g.groupId)).toEqual([groupId]);
    const info = await apiOk<{ epoch: number; groupInfo: string }>(server, 'GET', `/v1/groups/${groupId}`, { auth: bob2 });
    expect(info.epoch).toBe(1);
    const joined = await apiOk(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: bob2, body: commitBody(1, [alice, bob, bob2], false) });
    expect(joined).toEqual({ epoch: 2, stored: 2 });

    const mallory = await registerDevice(server);
    await fails(api(server, 'GET', `/v1/groups/${groupId}`, { auth: mallory }), 403, 'NOT_A_GROUP_MEMBER');
    await fails(
      api(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: mallory, body: commitBody(2, [alice, bob, bob2, mallory], false) }),
      403,
      'NOT_A_GROUP_MEMBER',
    );
    await fails(
      api(server, 'PUT', `/v1/groups/${groupId}/messages`, { auth: mallory, body: { envelope: groupEnvelope(EnvelopeType.GroupMessage) } }),
      403,
      'NOT_A_GROUP_MEMBER',
    );
  });

  it('answers bad group requests with clear codes', async () => {
    const alice = await registerDevice(server);
    const groupId = await createGroup(alice);
    await fails(api(server, 'POST', '/v1/groups', { auth: alice, body: { groupId, epoch: 0, groupInfo: b64(new Uint8Array([1])) } }), 409, 'GROUP_EXISTS');
    await fails(api(server, 'GET', `/v1/groups/${newGroupId()}`, { auth: alice }), 404, 'GROUP_NOT_FOUND');
    await fails(api(server, 'GET', '/v1/groups/not-hex', { auth: alice }), 400, 'VALIDATION_FAILED');
    await fails(api(server, 'POST', `/v1/groups/${newGroupId()}/commits`, { auth: alice, body: commitBody(0, [alice]) }), 404, 'GROUP_NOT_FOUND');
    // A 1:1 envelope type where a group one belongs; a commit that is no envelope at all; a member listed twice.
    const wrongType = { ...commitBody(0, [alice]), commit: groupEnvelope(EnvelopeType.Message) };
    await fails(api(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: alice, body: wrongType }), 400, 'INVALID_ENVELOPE');
    const garbage = { ...commitBody(0, [alice]), commit: b64(new Uint8Array([1, 2, 3])) };
    await fails(api(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: alice, body: garbage }), 400, 'INVALID_ENVELOPE');
    await fails(api(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: alice, body: commitBody(0, [alice, alice]) }), 400, 'BAD_REQUEST');
    await fails(api(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: alice, body: { ...commitBody(0, [alice]), epoch: -1 } }), 400, 'VALIDATION_FAILED');
    await fails(api(server, 'POST', `/v1/groups/${groupId}/commits`, { body: commitBody(0, [alice]) }), 401, 'UNAUTHORIZED');
    await fails(api(server, 'PUT', '/v1/groups/key-packages', { auth: alice, body: { keyPackages: [''] } }), 400, 'BAD_REQUEST');
    await fails(api(server, 'POST', '/v1/groups/key-packages/claim', { auth: alice, body: { accountIds: [] } }), 400, 'VALIDATION_FAILED');
    // Nothing above changed the group.
    expect((await apiOk<{ epoch: number }>(server, 'GET', `/v1/groups/${groupId}`, { auth: alice })).epoch).toBe(0);
  });

  it('keeps a key package directory: one-use packages once each, then the last-resort one', async () => {
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const alice = await registerDevice(server);
    const kp = (n: number) => b64(new Uint8Array(200).fill(n));
    await apiOk(server, 'PUT', '/v1/groups/key-packages', { auth: bob, body: { keyPackages: [kp(1), kp(2)], lastResort: kp(9) } });
    await apiOk(server, 'PUT', '/v1/groups/key-packages', { auth: bob2, body: { keyPackages: [kp(3)] } });
    expect(await apiOk(server, 'GET', '/v1/groups/key-packages/count', { auth: bob })).toEqual({ count: 2 });
    const claim = () => apiOk<{ keyPackages: { deviceId: number; keyPackage: string }[] }>(server, 'POST', '/v1/groups/key-packages/claim', { auth: alice, body: { accountIds: [bob.accountId] } });
    const first = await claim();
    expect(first.keyPackages.map((k) => [k.deviceId, Buffer.from(k.keyPackage, 'base64')[0]])).toEqual([[1, 1], [2, 3]]);
    const second = await claim();
    expect(second.keyPackages.map((k) => [k.deviceId, Buffer.from(k.keyPackage, 'base64')[0]])).toEqual([[1, 2]]); // bob2 has none left
    expect((await claim()).keyPackages.map((k) => Buffer.from(k.keyPackage, 'base64')[0])).toEqual([9]);
  });
});
