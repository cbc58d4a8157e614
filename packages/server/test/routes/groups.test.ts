import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeType, decodeEnvelope, encodeEnvelope } from '@samizdat/protocol';
import { api, apiOk, linkDevice, registerDevice, startServer } from '../helpers/server.js';
import type { ApiResponse, TestDevice, TestServer } from '../helpers/server.js';
import type { ErrorCode } from '../../src/errors.js';
import { b64, expectError } from '../helpers/http.js';
import { connectDevice } from '../helpers/ws-client.js';
import { MlsTestGroup, engine, envelopeOf } from '../helpers/mls-group.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ dsThreads: 1 }); // As the real server runs: commits verified on a worker thread.
});

afterAll(async () => {
  await server?.close();
});

const groupEnvelope = (type: number, content: Uint8Array = new Uint8Array(randomBytes(64))) =>
  b64(encodeEnvelope({ type: type as EnvelopeType, timestamp: Date.now(), content }));
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

const postCommit = (groupId: string, by: TestDevice, body: unknown) => api(server, 'POST', `/v1/groups/${groupId}/commits`, { auth: by, body });

interface GroupView {
  epoch: number;
  groupInfo: string;
  members: { accountId: string; deviceId: number }[];
}
const groupView = (groupId: string, by: TestDevice) => apiOk<GroupView>(server, 'GET', `/v1/groups/${groupId}`, { auth: by });
const keys = (devices: readonly TestDevice[]) => devices.map((d) => `${d.accountId}.${d.deviceId}`).sort();
const memberKeys = (view: GroupView) => view.members.map((m) => `${m.accountId}.${m.deviceId}`).sort();

describe('groups: the MLS Delivery Service', () => {
  it('orders commits per epoch, fans out commits, Welcomes and application messages, and pushes them live', async () => {
    const alice = await registerDevice(server);
    const alice2 = await linkDevice(server, alice);
    const bob = await registerDevice(server);
    const group = await MlsTestGroup.create(server, alice);
    const groupId = group.groupId;
    const socket = await connectDevice(server, bob);
    await socket.nextOf('queue-empty');

    expect(await group.post(server, await group.add(alice, [alice2, bob]))).toEqual({ epoch: 1, stored: 2 });
    const pushed = await socket.nextOf('envelope');
    expect(decodeEnvelope(pushed.envelope).type).toBe(EnvelopeType.GroupWelcome);
    expect(pushed.source).toEqual({ accountId: alice.accountId, deviceId: alice.deviceId });
    expect((await queue(alice2)).map((q) => q.type)).toEqual([EnvelopeType.GroupWelcome]);

    // Bob's commit made in epoch 0 comes too late.
    const late = await group.update(bob);
    const stale = await postCommit(groupId, bob, { ...late.body, epoch: 0 });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ code: 'STALE_EPOCH', epoch: 1 });
    // In epoch 1 he wins.
    expect((await group.post(server, late)).epoch).toBe(2);

    const text = await group.encrypt(alice2, 'hello');
    expect(await apiOk(server, 'PUT', `/v1/groups/${groupId}/messages`, { auth: alice2, body: { envelope: text } })).toEqual({ stored: 2 });
    const live = await socket.nextOf('envelope');
    expect(decodeEnvelope(live.envelope).type).toBe(EnvelopeType.GroupMessage);
    expect((await queue(alice)).map((q) => [q.type, q.source])).toEqual([
      [EnvelopeType.GroupMessage, `${bob.accountId}.${bob.deviceId}`],
      [EnvelopeType.GroupMessage, `${alice2.accountId}.${alice2.deviceId}`],
    ]);

    const info = await groupView(groupId, bob);
    expect(info.epoch).toBe(2);
    expect(memberKeys(info)).toEqual(keys([alice, alice2, bob]));
    expect((await apiOk<{ groups: unknown[] }>(server, 'GET', '/v1/groups', { auth: alice2 })).groups).toEqual([{ groupId, epoch: 2 }]);

    // A removal: the server's member list follows the verified tree, and the removed device gets the commit no more.
    await group.post(server, await group.remove(alice, [bob]));
    expect(memberKeys(await groupView(groupId, alice))).toEqual(keys([alice, alice2]));
    await fails(api(server, 'GET', `/v1/groups/${groupId}`, { auth: bob }), 403, 'NOT_A_GROUP_MEMBER');
    await socket.close();
  });

  it('lets a new device of a member account join by external commit, and nobody else', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const group = await MlsTestGroup.create(server, alice);
    const groupId = group.groupId;
    await group.post(server, await group.add(alice, [bob]));
    const bob2 = await linkDevice(server, bob);
    expect((await apiOk<{ groups: { groupId: string }[] }>(server, 'GET', '/v1/groups', { auth: bob2 })).groups.map((g) => g.groupId)).toEqual([groupId]);
    const info = await groupView(groupId, bob2);
    expect(info.epoch).toBe(1);
    const joined = await group.post(server, await group.joinExternal(bob2, new Uint8Array(Buffer.from(info.groupInfo, 'base64'))));
    expect(joined).toEqual({ epoch: 2, stored: 2 });
    expect(memberKeys(await groupView(groupId, alice))).toEqual(keys([alice, bob, bob2]));

    const mallory = await registerDevice(server);
    await fails(api(server, 'GET', `/v1/groups/${groupId}`, { auth: mallory }), 403, 'NOT_A_GROUP_MEMBER');
    // Mallory holds a GroupInfo (as a former member would) and makes a valid external commit: not her account's group.
    const leaked = new Uint8Array(Buffer.from((await groupView(groupId, alice)).groupInfo, 'base64'));
    const outsider = await group.joinExternal(mallory, leaked);
    await fails(postCommit(groupId, mallory, outsider.body), 403, 'NOT_A_GROUP_MEMBER');
    await fails(
      api(server, 'PUT', `/v1/groups/${groupId}/messages`, { auth: mallory, body: { envelope: groupEnvelope(EnvelopeType.GroupMessage) } }),
      403,
      'NOT_A_GROUP_MEMBER',
    );
    // Bob's third device posting the external commit bob2 made: the commit is not its own.
    const bob3 = await linkDevice(server, bob);
    const other = await group.joinExternal(bob2, leaked);
    await fails(postCommit(groupId, bob3, other.body), 400, 'INVALID_COMMIT');
    expect((await groupView(groupId, alice)).epoch).toBe(2);
  });

  it('answers bad group requests with clear codes', async () => {
    const alice = await registerDevice(server);
    const group = await MlsTestGroup.create(server, alice);
    const groupId = group.groupId;
    const again = b64(await engine.exportGroupInfo(group.stateOf(alice)));
    await fails(api(server, 'POST', '/v1/groups', { auth: alice, body: { groupId, epoch: 0, groupInfo: again } }), 409, 'GROUP_EXISTS');
    await fails(api(server, 'GET', `/v1/groups/${newGroupId()}`, { auth: alice }), 404, 'GROUP_NOT_FOUND');
    await fails(api(server, 'GET', '/v1/groups/not-hex', { auth: alice }), 400, 'VALIDATION_FAILED');
    const update = await group.update(alice);
    await fails(postCommit(newGroupId(), alice, update.body), 404, 'GROUP_NOT_FOUND');
    // A 1:1 envelope type where a group one belongs; a commit that is no envelope at all; a field the API lacks.
    await fails(postCommit(groupId, alice, { ...update.body, commit: groupEnvelope(EnvelopeType.Message) }), 400, 'INVALID_ENVELOPE');
    await fails(postCommit(groupId, alice, { ...update.body, commit: b64(new Uint8Array([1, 2, 3])) }), 400, 'INVALID_ENVELOPE');
    await fails(postCommit(groupId, alice, { ...update.body, members: [{ accountId: alice.accountId, deviceId: 1 }] }), 400, 'VALIDATION_FAILED');
    await fails(postCommit(groupId, alice, { ...update.body, epoch: -1 }), 400, 'VALIDATION_FAILED');
    await fails(api(server, 'POST', `/v1/groups/${groupId}/commits`, { body: update.body }), 401, 'UNAUTHORIZED');
    await fails(api(server, 'PUT', '/v1/groups/key-packages', { auth: alice, body: { keyPackages: [''] } }), 400, 'BAD_REQUEST');
    await fails(api(server, 'POST', '/v1/groups/key-packages/claim', { auth: alice, body: { accountIds: [] } }), 400, 'VALIDATION_FAILED');
    // Nothing above changed the group, and the commit still lands.
    expect((await groupView(groupId, alice)).epoch).toBe(0);
    expect((await group.post(server, update)).epoch).toBe(1);
  });
});

describe('groups: the server verifies what it orders (issue 14)', () => {
  it('refuses a garbage commit from a member, changes nothing, and the group goes on', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const carol = await registerDevice(server);
    const group = await MlsTestGroup.create(server, alice);
    await group.post(server, await group.add(alice, [bob, carol]));
    const before = await groupView(group.groupId, alice);
    const queued = (await queue(carol)).length;

    // Bob (no admin) posts what froze groups before: any type-4 bytes, a garbage GroupInfo, a member list of his own.
    const garbage = { epoch: 1, commit: groupEnvelope(EnvelopeType.GroupMessage), groupInfo: b64(new Uint8Array(randomBytes(100))) };
    await fails(postCommit(group.groupId, bob, garbage), 400, 'INVALID_COMMIT');
    await fails(postCommit(group.groupId, bob, { ...garbage, members: [{ accountId: bob.accountId, deviceId: bob.deviceId }] }), 400, 'VALIDATION_FAILED');
    // A real commit of his with a GroupInfo that is not the one it leads to (an old one).
    const real = await group.update(bob);
    await fails(postCommit(group.groupId, bob, { ...real.body, groupInfo: before.groupInfo }), 400, 'INVALID_COMMIT');
    // A bit of the commit's signature flipped. A PublicMessage ends with the signature, the confirmation tag and the
    // membership tag (RFC 9420 §6.2), each a one-byte length and 64 bytes here (Ed25519, SHA-512).
    const commit = Buffer.from(real.mls);
    commit[commit.length - 2 * 65 - 10]! ^= 1;
    await fails(postCommit(group.groupId, bob, { ...real.body, commit: envelopeOf(EnvelopeType.GroupMessage, commit) }), 400, 'INVALID_COMMIT');
    // Alice's commit posted by Bob.
    const alices = await group.update(alice);
    await fails(postCommit(group.groupId, bob, alices.body), 400, 'INVALID_COMMIT');

    const after = await groupView(group.groupId, alice);
    expect(after).toEqual(before);
    expect((await queue(carol)).length).toBe(queued);
    // The legitimate commit is accepted, and the members can still talk.
    expect((await group.post(server, real)).epoch).toBe(2);
    const hello = await group.encrypt(carol, 'still here');
    expect(await apiOk(server, 'PUT', `/v1/groups/${group.groupId}/messages`, { auth: carol, body: { envelope: hello } })).toEqual({ stored: 2 });
  });

  it("derives the members from the commit: nobody puts a stranger's device into a group", async () => {
    const alice = await registerDevice(server);
    const victim = await registerDevice(server);
    const group = await MlsTestGroup.create(server, alice);
    // Alice adds a leaf claiming to be the victim's device, with a credential her own identity key signed.
    const forged = { ...victim, identity: alice.identity };
    const add = await group.add(alice, [forged]);
    await fails(postCommit(group.groupId, alice, add.body), 400, 'INVALID_COMMIT');
    expect(memberKeys(await groupView(group.groupId, alice))).toEqual(keys([alice]));
    expect(await queue(victim)).toEqual([]);
  });

  it('registers a group only from a GroupInfo of the creating device alone', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const create = (by: TestDevice, body: unknown) => api(server, 'POST', '/v1/groups', { auth: by, body });
    await fails(create(alice, { groupId: newGroupId(), epoch: 0, groupInfo: b64(new Uint8Array([1, 2, 3])) }), 400, 'INVALID_GROUP_INFO');
    const { group, groupInfo } = await MlsTestGroup.unregistered(alice);
    // Bob registering Alice's group; the id or epoch not the GroupInfo's.
    await fails(create(bob, { groupId: group.groupId, epoch: 0, groupInfo: b64(groupInfo) }), 400, 'INVALID_GROUP_INFO');
    await fails(create(alice, { groupId: newGroupId(), epoch: 0, groupInfo: b64(groupInfo) }), 400, 'INVALID_GROUP_INFO');
    await fails(create(alice, { groupId: group.groupId, epoch: 1, groupInfo: b64(groupInfo) }), 400, 'INVALID_GROUP_INFO');
    // A GroupInfo of a group with more than its creator.
    await group.adopt(await group.add(alice, [bob]));
    const two = await engine.exportGroupInfo(group.stateOf(alice));
    await fails(create(alice, { groupId: group.groupId, epoch: 1, groupInfo: b64(two) }), 400, 'INVALID_GROUP_INFO');
    await fails(api(server, 'GET', `/v1/groups/${group.groupId}`, { auth: alice }), 404, 'GROUP_NOT_FOUND');
  });

  it('refuses a commit that adds devices without their Welcome', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const group = await MlsTestGroup.create(server, alice);
    const add = await group.add(alice, [bob]);
    const { welcome: _welcome, ...noWelcome } = add.body;
    await fails(postCommit(group.groupId, alice, noWelcome), 400, 'INVALID_COMMIT');
    const update = await group.update(alice);
    await fails(postCommit(group.groupId, alice, { ...update.body, welcome: add.body.welcome }), 400, 'INVALID_COMMIT');
    expect((await group.post(server, add)).epoch).toBe(1);
  });
});

describe('groups: size limits', () => {
  it('refuses a commit past the device or account cap with GROUP_TOO_LARGE, and changes nothing', async () => {
    const small = await startServer({ limits: { maxGroupDevices: 3, maxGroupAccounts: 2 } });
    try {
      const alice = await registerDevice(small);
      const bob = await registerDevice(small);
      const bob2 = await linkDevice(small, bob);
      const carol = await registerDevice(small);
      const group = await MlsTestGroup.create(small, alice);
      // A third account: past the account cap (the devices are within theirs).
      const third = await group.add(alice, [bob, carol]);
      const refused = await api(small, 'POST', `/v1/groups/${group.groupId}/commits`, { auth: alice, body: third.body });
      expect(refused.status).toBe(403);
      expectError(refused, 'GROUP_TOO_LARGE');
      // Four devices: refused from the commit's Adds alone, before their key packages are verified.
      const fourth = await group.add(alice, [bob, bob2, carol]);
      expectError(await api(small, 'POST', `/v1/groups/${group.groupId}/commits`, { auth: alice, body: fourth.body }), 'GROUP_TOO_LARGE');
      expect((await apiOk<GroupView>(small, 'GET', `/v1/groups/${group.groupId}`, { auth: alice })).epoch).toBe(0);
      // Within both: Bob's two devices.
      expect((await group.post(small, await group.add(alice, [bob, bob2]))).epoch).toBe(1);
    } finally {
      await small.close();
    }
  });
});

describe('groups: key packages', () => {
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
