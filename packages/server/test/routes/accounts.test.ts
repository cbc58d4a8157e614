import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveSealedSenderKeyPair, encodeIdentityKey, generateIdentityKeyPair, signSealedSenderKey } from '@samizdat/protocol';
import {
  api,
  apiOk,
  basicAuth,
  crypto,
  deviceKeys,
  linkDevice,
  queuedIds,
  registerDevice,
  sendMessage,
  startServer,
} from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { b64, expectError, rawRequest } from '../helpers/http.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

/** A valid POST /v1/accounts body with real keys; `edit` changes it before it is returned. */
async function registration(edit: (body: Record<string, any>) => void = () => undefined): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any -- tests reshape the body freely
  const identity = await generateIdentityKeyPair(crypto);
  const body: Record<string, any> = { identityKey: b64(encodeIdentityKey(identity.publicKey)), device: await deviceKeys(identity) }; // eslint-disable-line @typescript-eslint/no-explicit-any -- as above
  edit(body);
  return body;
}

/** A unique valid username (letters first, then hex). */
function username(prefix = 'user'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** The stored state a bad request must leave alone: this account still authenticates and finds its username. */
async function expectIntact(device: TestDevice, name?: string): Promise<void> {
  const me = await apiOk(server, 'GET', '/v1/accounts/me', { auth: device });
  expect(me).toMatchObject({ accountId: device.accountId, deviceId: device.deviceId, hasUsername: name !== undefined });
  if (name !== undefined) {
    const found = await apiOk(server, 'POST', '/v1/accounts/lookup', { auth: device, body: { username: name } });
    expect(found.accountId).toBe(device.accountId);
  }
}

describe('POST /v1/accounts', () => {
  it('creates an account whose device 1 authenticates and has its prekeys', async () => {
    const body = await registration();
    const res = await apiOk(server, 'POST', '/v1/accounts', { body });
    expect(res.accountId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.deviceId).toBe(1);
    const device = { accountId: res.accountId, deviceId: 1, password: body.device.password };
    expect(await apiOk(server, 'GET', '/v1/accounts/me', { auth: device })).toEqual({
      accountId: res.accountId,
      deviceId: 1,
      identityKey: body.identityKey,
      hasUsername: false,
    });
    expect(await apiOk(server, 'GET', '/v1/keys/count', { auth: device })).toEqual({ oneTime: 2, kyberOneTime: 1 });
  });

  it('gives every account a new random id', async () => {
    const [a, b] = await Promise.all([registerDevice(server), registerDevice(server)]);
    expect(a.accountId).not.toBe(b.accountId);
  });

  it('rejects malformed and empty JSON with INVALID_JSON', async () => {
    const existing = await registerDevice(server);
    expectError(await rawRequest(server, 'POST', '/v1/accounts', { json: '{"identityKey": "AAAA", ' }), 'INVALID_JSON');
    expectError(await rawRequest(server, 'POST', '/v1/accounts', { json: '' }), 'INVALID_JSON');
    expectError(await rawRequest(server, 'POST', '/v1/accounts', { json: "{'single': 'quotes'}" }), 'INVALID_JSON');
    await expectIntact(existing);
  });

  it('rejects a body of the wrong shape or with fields of the wrong type with VALIDATION_FAILED', async () => {
    const bodies: unknown[] = [
      [],
      'account',
      null,
      await registration((b) => (b.device = 'device')),
      await registration((b) => (b.identityKey = 42)),
      await registration((b) => (b.device.registrationId = 'seven')),
      await registration((b) => (b.device.registrationId = '7')),
      await registration((b) => (b.device.registrationId = true)),
      await registration((b) => (b.device.registrationId = 0)),
      await registration((b) => (b.device.registrationId = 1.5)),
      await registration((b) => (b.device.signedPreKey.keyId = -1)),
      await registration((b) => (b.device.oneTimePreKeys = { keyId: 1 })),
      await registration((b) => (b.username = 7)),
    ];
    for (const body of bodies) {
      const res = await rawRequest(server, 'POST', '/v1/accounts', { json: JSON.stringify(body) });
      expectError(res, 'VALIDATION_FAILED');
    }
  });

  it('rejects a body with a missing field with VALIDATION_FAILED', async () => {
    const edits: ((b: Record<string, any>) => void)[] = [ // eslint-disable-line @typescript-eslint/no-explicit-any -- reshaping
      (b) => delete b.identityKey,
      (b) => delete b.device,
      (b) => delete b.device.password,
      (b) => delete b.device.registrationId,
      (b) => delete b.device.signedPreKey,
      (b) => delete b.device.kyberLastResortPreKey,
      (b) => delete b.device.signedPreKey.signature,
    ];
    for (const edit of edits) expectError(await api(server, 'POST', '/v1/accounts', { body: await registration(edit) }), 'VALIDATION_FAILED');
    expectError(await api(server, 'POST', '/v1/accounts'), 'VALIDATION_FAILED');
  });

  it('rejects extra fields, at the top and nested, with VALIDATION_FAILED', async () => {
    expectError(await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.admin = true)) }), 'VALIDATION_FAILED');
    expectError(await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.device.deviceId = 2)) }), 'VALIDATION_FAILED');
    expectError(
      await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.device.signedPreKey.privateKey = 'AAAA')) }),
      'VALIDATION_FAILED',
    );
  });

  it('rejects a body over the 1 MiB limit with PAYLOAD_TOO_LARGE and keeps serving', async () => {
    const existing = await registerDevice(server);
    const body = await registration((b) => (b.padding = 'x'.repeat(1024 * 1024 + 1)));
    expectError(await api(server, 'POST', '/v1/accounts', { body }), 'PAYLOAD_TOO_LARGE');
    await expectIntact(existing);
  });

  it('rejects a key that is not base64 with INVALID_BASE64', async () => {
    // Both alphabets mixed, or padding at a length that is not a multiple of 4: the schema's charset admits them.
    expectError(await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.identityKey = 'ab+_cd==')) }), 'INVALID_BASE64');
    expectError(
      await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.device.signedPreKey.publicKey = 'abcdef=')) }),
      'INVALID_BASE64',
    );
    expectError(await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.identityKey = 'not base64!')) }), 'VALIDATION_FAILED');
  });

  it('rejects keys of the wrong length or encoding with INVALID_KEY', async () => {
    const short = (s: string) => b64(Buffer.from(s, 'base64').subarray(1));
    const edits: ((b: Record<string, any>) => void)[] = [ // eslint-disable-line @typescript-eslint/no-explicit-any -- reshaping
      (b) => (b.identityKey = short(b.identityKey)),
      (b) => {
        const key = Buffer.from(b.identityKey, 'base64');
        key[0] = 0x7f; // an unknown identity key version
        b.identityKey = b64(key);
      },
      (b) => (b.device.signedPreKey.publicKey = short(b.device.signedPreKey.publicKey)),
      (b) => (b.device.signedPreKey.signature = short(b.device.signedPreKey.signature)),
      (b) => (b.device.kyberLastResortPreKey.publicKey = short(b.device.kyberLastResortPreKey.publicKey)),
      (b) => (b.device.oneTimePreKeys[0].publicKey = b64(new Uint8Array(33))),
    ];
    for (const edit of edits) expectError(await api(server, 'POST', '/v1/accounts', { body: await registration(edit) }), 'INVALID_KEY');
  });

  it('rejects prekeys whose signature does not verify with BAD_SIGNATURE, storing nothing', async () => {
    const name = username();
    const flip = (s: string) => {
      const bytes = Buffer.from(s, 'base64');
      bytes[5] = (bytes[5] as number) ^ 1;
      return b64(bytes);
    };
    const other = await generateIdentityKeyPair(crypto);
    const foreign = await deviceKeys(other);
    const edits: ((b: Record<string, any>) => void)[] = [ // eslint-disable-line @typescript-eslint/no-explicit-any -- reshaping
      (b) => (b.device.signedPreKey.signature = flip(b.device.signedPreKey.signature)),
      (b) => (b.device.kyberLastResortPreKey.signature = flip(b.device.kyberLastResortPreKey.signature)),
      (b) => (b.device.kyberPreKeys[0].signature = flip(b.device.kyberPreKeys[0].signature)),
      // Valid signatures, but by another identity key.
      (b) => (b.device.signedPreKey = foreign.signedPreKey),
      (b) => (b.device.kyberLastResortPreKey = foreign.kyberLastResortPreKey),
    ];
    for (const edit of edits) {
      const body = await registration((b) => {
        b.username = name;
        edit(b);
      });
      expectError(await api(server, 'POST', '/v1/accounts', { body }), 'BAD_SIGNATURE');
    }
    // No half-created account holds the username.
    const account = await registerDevice(server, { username: name });
    await expectIntact(account, name);
  });

  it('rejects invalid usernames with INVALID_USERNAME', async () => {
    for (const name of ['ab', '1abc', '_abc', 'a b c', 'abc-def', 'x'.repeat(33), 'émile', 'abc\u0000']) {
      expectError(await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.username = name)) }), 'INVALID_USERNAME');
    }
    expectError(await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.username = 'a'.repeat(65))) }), 'VALIDATION_FAILED');
  });

  it('accepts usernames at the edges of the rules', async () => {
    for (const name of [`a${randomBytes(1).toString('hex')}`, `z${'9'.repeat(31)}`, `b.c_${randomBytes(2).toString('hex')}`]) {
      const device = await registerDevice(server, { username: name });
      await expectIntact(device, name);
    }
  });

  it('rejects a username held by another account in any case with USERNAME_TAKEN', async () => {
    const name = username('Alice');
    const alice = await registerDevice(server, { username: name });
    for (const variant of [name, name.toLowerCase(), name.toUpperCase()]) {
      expectError(await api(server, 'POST', '/v1/accounts', { body: await registration((b) => (b.username = variant)) }), 'USERNAME_TAKEN');
    }
    await expectIntact(alice, name);
  });
});

describe('authentication', () => {
  it('answers missing, malformed or wrong credentials with UNAUTHORIZED', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const wrong = randomBytes(24).toString('base64url');
    const headers = [
      undefined,
      'Bearer abc',
      'Basic',
      'Basic !!!',
      `Basic ${Buffer.from(`${alice.accountId}:${alice.password}`).toString('base64')}`,
      `Basic ${Buffer.from(`${alice.accountId}.1`).toString('base64')}`,
      `Basic ${Buffer.from(`${alice.accountId}.0:${alice.password}`).toString('base64')}`,
      `Basic ${Buffer.from(`${alice.accountId}.1:short`).toString('base64')}`,
      basicAuth({ ...alice, password: wrong }),
      basicAuth({ ...alice, deviceId: 2 }),
      basicAuth({ ...alice, accountId: randomBytes(16).toString('hex') }),
      basicAuth({ ...alice, accountId: alice.accountId.toUpperCase() }),
      // Bob's account with Alice's secret, and Alice's account with Bob's.
      basicAuth({ ...bob, password: alice.password }),
      basicAuth({ ...alice, password: bob.password }),
    ];
    for (const authorization of headers) {
      const res = await api(server, 'GET', '/v1/accounts/me', authorization === undefined ? {} : { headers: { authorization } });
      expectError(res, 'UNAUTHORIZED');
    }
    await expectIntact(alice);
    await expectIntact(bob);
  });

  it('keeps refusing a wrong secret after the right one was accepted', async () => {
    const alice = await registerDevice(server);
    await expectIntact(alice);
    expectError(await api(server, 'GET', '/v1/accounts/me', { auth: { ...alice, password: randomBytes(24).toString('base64url') } }), 'UNAUTHORIZED');
  });
});

describe('usernames', () => {
  it('sets, finds in any case, and removes a username', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const name = username('Carol');
    const res = await api(server, 'PUT', '/v1/accounts/me/username', { auth: alice, body: { username: name } });
    expect(res.status).toBe(204);
    for (const variant of [name, name.toLowerCase(), name.toUpperCase()]) {
      const found = await apiOk(server, 'POST', '/v1/accounts/lookup', { auth: bob, body: { username: variant } });
      expect(found).toEqual({ accountId: alice.accountId, identityKey: b64(encodeIdentityKey(alice.identity.publicKey)) });
    }
    expect((await apiOk(server, 'GET', '/v1/accounts/me', { auth: alice })).hasUsername).toBe(true);

    expect((await api(server, 'DELETE', '/v1/accounts/me/username', { auth: alice })).status).toBe(204);
    expectError(await api(server, 'POST', '/v1/accounts/lookup', { auth: bob, body: { username: name } }), 'ACCOUNT_NOT_FOUND');
    // The name is free again.
    expect((await api(server, 'PUT', '/v1/accounts/me/username', { auth: bob, body: { username: name } })).status).toBe(204);
    await expectIntact(bob, name);
  });

  it('lets an account set its own username again in another case', async () => {
    const name = username('Dave');
    const dave = await registerDevice(server, { username: name });
    expect((await api(server, 'PUT', '/v1/accounts/me/username', { auth: dave, body: { username: name.toUpperCase() } })).status).toBe(204);
    await expectIntact(dave, name);
  });

  it('replaces an account’s old username when it sets a new one', async () => {
    const [oldName, newName] = [username('old'), username('new')];
    const erin = await registerDevice(server, { username: oldName });
    expect((await api(server, 'PUT', '/v1/accounts/me/username', { auth: erin, body: { username: newName } })).status).toBe(204);
    expectError(await api(server, 'POST', '/v1/accounts/lookup', { auth: erin, body: { username: oldName } }), 'ACCOUNT_NOT_FOUND');
    await expectIntact(erin, newName);
  });

  it('refuses a username another account holds, in any case, with USERNAME_TAKEN', async () => {
    const name = username('Frank');
    const frank = await registerDevice(server, { username: name });
    const other = await registerDevice(server);
    for (const variant of [name, name.toUpperCase()]) {
      expectError(await api(server, 'PUT', '/v1/accounts/me/username', { auth: other, body: { username: variant } }), 'USERNAME_TAKEN');
    }
    await expectIntact(frank, name);
    await expectIntact(other);
  });

  it('rejects bad username requests with their codes', async () => {
    const name = username();
    const alice = await registerDevice(server, { username: name });
    expectError(await api(server, 'PUT', '/v1/accounts/me/username', { auth: alice, body: { username: '9lives' } }), 'INVALID_USERNAME');
    expectError(await api(server, 'PUT', '/v1/accounts/me/username', { auth: alice, body: { name: 'alice' } }), 'VALIDATION_FAILED');
    expectError(await api(server, 'PUT', '/v1/accounts/me/username', { auth: alice, body: { username: name, extra: 1 } }), 'VALIDATION_FAILED');
    expectError(await api(server, 'PUT', '/v1/accounts/me/username', { auth: alice, body: { username: ['alice'] } }), 'VALIDATION_FAILED');
    expectError(await rawRequest(server, 'PUT', '/v1/accounts/me/username', { auth: alice, json: '{"username":' }), 'INVALID_JSON');
    expectError(await api(server, 'PUT', '/v1/accounts/me/username', { body: { username: username() } }), 'UNAUTHORIZED');
    expectError(await api(server, 'DELETE', '/v1/accounts/me/username'), 'UNAUTHORIZED');
    await expectIntact(alice, name);
  });

  it('answers lookups of unknown, invalid or unauthenticated names with their codes', async () => {
    const name = username();
    const alice = await registerDevice(server, { username: name });
    expectError(await api(server, 'POST', '/v1/accounts/lookup', { auth: alice, body: { username: username() } }), 'ACCOUNT_NOT_FOUND');
    expectError(await api(server, 'POST', '/v1/accounts/lookup', { auth: alice, body: { username: 'no' } }), 'INVALID_USERNAME');
    expectError(await api(server, 'POST', '/v1/accounts/lookup', { auth: alice, body: {} }), 'VALIDATION_FAILED');
    expectError(await api(server, 'POST', '/v1/accounts/lookup', { body: { username: name } }), 'UNAUTHORIZED');
    // Lookups are a POST so that usernames never travel in URLs.
    expectError(await api(server, 'GET', `/v1/accounts/lookup?username=${name}`, { auth: alice }), 'VALIDATION_FAILED');
    await expectIntact(alice, name);
  });
});

describe('GET /v1/accounts/:accountId', () => {
  it('returns another account’s identity key', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    expect(await apiOk(server, 'GET', `/v1/accounts/${bob.accountId}`, { auth: alice })).toEqual({
      accountId: bob.accountId,
      identityKey: b64(encodeIdentityKey(bob.identity.publicKey)),
    });
  });

  it('answers an unknown account with ACCOUNT_NOT_FOUND, a malformed id with VALIDATION_FAILED, no auth with UNAUTHORIZED', async () => {
    const alice = await registerDevice(server);
    expectError(await api(server, 'GET', `/v1/accounts/${randomBytes(16).toString('hex')}`, { auth: alice }), 'ACCOUNT_NOT_FOUND');
    expectError(await api(server, 'GET', `/v1/accounts/${alice.accountId.toUpperCase()}`, { auth: alice }), 'VALIDATION_FAILED');
    expectError(await api(server, 'GET', '/v1/accounts/1234', { auth: alice }), 'VALIDATION_FAILED');
    expectError(await api(server, 'GET', `/v1/accounts/${alice.accountId}`), 'UNAUTHORIZED');
  });
});

describe('PUT /v1/accounts/me/sealed-sender-key', () => {
  it('publishes the key signed by the identity: lookups by id and by username then carry it', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const name = username('bob');
    await apiOk(server, 'PUT', '/v1/accounts/me/username', { auth: bob, body: { username: name } });
    const published = await signSealedSenderKey(crypto, bob.identity, (await deriveSealedSenderKeyPair(crypto, bob.identity)).publicKey);
    await apiOk(server, 'PUT', '/v1/accounts/me/sealed-sender-key', { auth: bob, body: { sealedSenderKey: b64(published) } });
    expect((await apiOk(server, 'GET', `/v1/accounts/${bob.accountId}`, { auth: alice })).sealedSenderKey).toBe(b64(published));
    expect((await apiOk(server, 'POST', '/v1/accounts/lookup', { auth: alice, body: { username: name } })).sealedSenderKey).toBe(b64(published));
    // Before publishing, there is none.
    expect(await apiOk(server, 'GET', `/v1/accounts/${alice.accountId}`, { auth: bob })).not.toHaveProperty('sealedSenderKey');
  });

  it("refuses a key signed by another identity (BAD_SIGNATURE), a malformed one (INVALID_KEY), and keeps the one stored", async () => {
    const bob = await registerDevice(server);
    const good = await signSealedSenderKey(crypto, bob.identity, (await deriveSealedSenderKeyPair(crypto, bob.identity)).publicKey);
    await apiOk(server, 'PUT', '/v1/accounts/me/sealed-sender-key', { auth: bob, body: { sealedSenderKey: b64(good) } });
    const mallory = await generateIdentityKeyPair(crypto);
    const forged = await signSealedSenderKey(crypto, mallory, (await deriveSealedSenderKeyPair(crypto, mallory)).publicKey);
    expectError(await api(server, 'PUT', '/v1/accounts/me/sealed-sender-key', { auth: bob, body: { sealedSenderKey: b64(forged) } }), 'BAD_SIGNATURE');
    const wrongVersion = Uint8Array.from(good);
    wrongVersion[0] = 9;
    expectError(await api(server, 'PUT', '/v1/accounts/me/sealed-sender-key', { auth: bob, body: { sealedSenderKey: b64(wrongVersion) } }), 'INVALID_KEY');
    expectError(await api(server, 'PUT', '/v1/accounts/me/sealed-sender-key', { auth: bob, body: { sealedSenderKey: b64(good.subarray(1)) } }), 'INVALID_KEY');
    expectError(await api(server, 'PUT', '/v1/accounts/me/sealed-sender-key', { body: { sealedSenderKey: b64(good) } }), 'UNAUTHORIZED');
    expect((await apiOk(server, 'GET', `/v1/accounts/${bob.accountId}`, { auth: bob })).sealedSenderKey).toBe(b64(good));
  });
});

describe('DELETE /v1/accounts/me', () => {
  it('deletes the account with its devices, keys, queues and attachments (blob files too)', async () => {
    const name = username('Gone');
    const alice = await registerDevice(server, { username: name });
    const alice2 = await linkDevice(server, alice);
    const bob = await registerDevice(server);
    const { repo } = server.app.ctx;
    // Queued for Alice's devices, and Alice's messages queued for Bob.
    await sendMessage(server, bob, [alice, alice2]);
    const [forBob] = await sendMessage(server, alice, [bob]);
    const blob = await rawRequest(server, 'POST', '/v1/attachments', {
      auth: alice2,
      body: new Uint8Array(randomBytes(4096)),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(blob.status).toBe(200);
    const blobId = (blob.body as { id: string }).id;
    expect(existsSync(join(server.dataDir, 'blobs', blobId))).toBe(true);
    expect(await repo.queueDepth(alice.accountId, 1)).toBe(1);

    expect((await api(server, 'DELETE', '/v1/accounts/me', { auth: alice2 })).status).toBe(204);

    expect(await repo.getAccount(alice.accountId)).toBeUndefined();
    expect(await repo.listDevices(alice.accountId)).toEqual([]);
    for (const device of [alice, alice2]) {
      expect(await repo.queueDepth(alice.accountId, device.deviceId)).toBe(0);
      expect(await repo.keys.countPreKeys(alice.accountId, device.deviceId)).toEqual({ oneTime: 0, kyberOneTime: 0 });
      expectError(await api(server, 'GET', '/v1/accounts/me', { auth: device }), 'UNAUTHORIZED');
    }
    expect(await repo.getAttachment(blobId)).toBeUndefined();
    expect(existsSync(join(server.dataDir, 'blobs', blobId))).toBe(false);
    expectError(await api(server, 'GET', `/v1/attachments/${blobId}`, { auth: bob }), 'ATTACHMENT_NOT_FOUND');
    expectError(await api(server, 'GET', `/v1/accounts/${alice.accountId}`, { auth: bob }), 'ACCOUNT_NOT_FOUND');
    expectError(await api(server, 'GET', `/v1/keys/${alice.accountId}/*`, { auth: bob }), 'ACCOUNT_NOT_FOUND');
    expectError(await api(server, 'POST', '/v1/accounts/lookup', { auth: bob, body: { username: name } }), 'ACCOUNT_NOT_FOUND');
    // Other accounts keep what they had, including what Alice sent them; the username is free again.
    expect(await queuedIds(server, bob)).toEqual([forBob]);
    expect((await api(server, 'PUT', '/v1/accounts/me/username', { auth: bob, body: { username: name } })).status).toBe(204);
  });

  it('requires authentication', async () => {
    const alice = await registerDevice(server);
    expectError(await api(server, 'DELETE', '/v1/accounts/me'), 'UNAUTHORIZED');
    expectError(await api(server, 'DELETE', '/v1/accounts/me', { auth: { ...alice, password: randomBytes(24).toString('base64url') } }), 'UNAUTHORIZED');
    await expectIntact(alice);
  });
});
