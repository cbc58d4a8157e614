import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { decodeEnvelope, encodeIdentityKey, generateOneTimePreKeys, verifyPreKeyBundle } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { nodeConnector } from '../../src/transport/node-connector.js';
import { HttpApi, mismatchOf } from '../../src/transport/http-api.js';
import { linkDevice, queuedIds, registerDevice, sendMessage, startServer, testEnvelope } from '../../../server/test/helpers/server.js';
import type { TestDevice, TestServer } from '../../../server/test/helpers/server.js';
import { answering, closedPort, credentialsOf, crypto, fakeServer, newDevice, newIdentity, rejectionOf } from './helpers.js';

const MAX_ATTACHMENT = 2 * 1024 * 1024;
const connector = nodeConnector();
let server: TestServer;

function apiOf(device?: TestDevice, url = server.url): HttpApi {
  return new HttpApi({ connector, serverUrl: url, ...(device ? { credentials: credentialsOf(device) } : {}) });
}

function codeOf(err: unknown): string {
  if (!ClientError.is(err)) throw err;
  return err.code;
}

beforeAll(async () => {
  server = await startServer({ limits: { maxAttachmentBytes: MAX_ATTACHMENT }, logLevel: 'warn' });
});

afterAll(async () => {
  await server.close();
});

describe('HttpApi accounts', () => {
  it('registers an account, then reads it back with me()', async () => {
    const keys = await newIdentity();
    const device = await newDevice(keys.identity);
    const registered = await apiOf().register({ identityKey: keys.identityKey, username: `reg_${randomBytes(4).toString('hex')}`, device });
    expect(registered.deviceId).toBe(1);
    expect(registered.accountId).toMatch(/^[0-9a-f]{32}$/);

    const api = apiOf().withCredentials({ ...registered, password: device.password });
    const me = await api.me();
    expect(me).toEqual({ ...registered, identityKey: keys.identityKey, hasUsername: true });
  });

  it('sets, looks up and deletes a username', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const name = `bob_${randomBytes(4).toString('hex')}`;
    await apiOf(bob).setUsername(name);
    const found = await apiOf(alice).lookupUsername(name.toUpperCase());
    expect(found).toEqual({ accountId: bob.accountId, identityKey: encodeIdentityKey(bob.identity.publicKey) });

    const taken = await rejectionOf(apiOf(alice).setUsername(name));
    expect(ClientError.isServer(taken, 'USERNAME_TAKEN')).toBe(true);
    expect((taken as ClientError).server?.status).toBe(409);

    await apiOf(bob).deleteUsername();
    expect(await apiOf(alice).lookupUsername(name)).toBeUndefined();
    expect((await apiOf(bob).me()).hasUsername).toBe(false);
  });

  it('gets an account’s identity key, and maps an unknown account to ACCOUNT_NOT_FOUND', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    expect(await apiOf(alice).getAccount(bob.accountId)).toEqual({
      accountId: bob.accountId,
      identityKey: encodeIdentityKey(bob.identity.publicKey),
    });
    const err = await rejectionOf(apiOf(alice).getAccount('0'.repeat(32)));
    expect(codeOf(err)).toBe(ClientErrorCode.ServerError);
    expect((err as ClientError).server).toEqual({ code: 'ACCOUNT_NOT_FOUND', status: 404, details: {} });
  });

  it('deletes the account, after which its credentials are UNAUTHORIZED', async () => {
    const alice = await registerDevice(server);
    await apiOf(alice).deleteAccount();
    const err = await rejectionOf(apiOf(alice).me());
    expect(ClientError.isServer(err, 'UNAUTHORIZED')).toBe(true);
  });

  it('maps wrong credentials to UNAUTHORIZED without repeating the password', async () => {
    const alice = await registerDevice(server);
    const password = randomBytes(24).toString('base64url');
    const err = await rejectionOf(apiOf({ ...alice, password }).me());
    expect(ClientError.isServer(err, 'UNAUTHORIZED')).toBe(true);
    expect((err as ClientError).server?.status).toBe(401);
    expect(String((err as Error).message)).not.toContain(password);
    expect(JSON.stringify((err as ClientError).server)).not.toContain(password);
  });

  it('refuses authenticated routes without credentials (NOT_REGISTERED) and bad arguments (INVALID_ARGUMENT)', async () => {
    expect(codeOf(await rejectionOf(apiOf().me()))).toBe(ClientErrorCode.NotRegistered);
    const alice = await registerDevice(server);
    expect(codeOf(await rejectionOf(apiOf(alice).getAccount('../me')))).toBe(ClientErrorCode.InvalidArgument);
    expect(codeOf(await rejectionOf(apiOf(alice).removeDevice(0)))).toBe(ClientErrorCode.InvalidArgument);
    expect(codeOf(await rejectionOf(apiOf(alice).getPreKeyBundles(alice.accountId, 1.5)))).toBe(ClientErrorCode.InvalidArgument);
    expect(codeOf(await rejectionOf(apiOf(alice).downloadAttachment('x')))).toBe(ClientErrorCode.InvalidArgument);
    expect(() => new HttpApi({ connector, serverUrl: 'ftp://example.org' })).toThrow(ClientError);
    expect(() => apiOf().withCredentials({ accountId: alice.accountId, deviceId: 1, password: 'short' })).toThrow(/password/);
  });
});

describe('HttpApi devices', () => {
  it('links a device with a link code, lists and removes devices', async () => {
    const alice = await registerDevice(server);
    const api = apiOf(alice);
    const { code, expiresAt } = await api.createLinkCode();
    expect(expiresAt).toBeGreaterThan(Date.now());
    const device = await newDevice(alice.identity);
    const linked = await apiOf().linkDevice({ code, ...device, name: Uint8Array.of(1, 2, 3) });
    expect(linked).toEqual({ accountId: alice.accountId, deviceId: 2 });

    const devices = await api.listDevices();
    expect(devices.map((d) => [d.deviceId, d.registrationId])).toEqual([
      [1, alice.registrationId],
      [2, device.registrationId],
    ]);
    expect([...(devices[1]?.name ?? [])]).toEqual([1, 2, 3]);
    expect(devices[0]?.name).toHaveLength(0);

    await api.removeDevice(2);
    expect((await api.listDevices()).map((d) => d.deviceId)).toEqual([1]);
    expect(ClientError.isServer(await rejectionOf(api.removeDevice(2)), 'DEVICE_NOT_FOUND')).toBe(true);
    // The code was used once.
    expect(ClientError.isServer(await rejectionOf(apiOf().linkDevice({ code, ...device })), 'LINK_CODE_INVALID')).toBe(true);
  });
});

describe('HttpApi keys', () => {
  it('uploads prekeys and counts them', async () => {
    const alice = await registerDevice(server, { oneTimePreKeys: 0, kyberPreKeys: 0 });
    const api = apiOf(alice);
    expect(await api.keyCounts()).toEqual({ oneTime: 0, kyberOneTime: 0 });
    const fresh = await newDevice(alice.identity, { oneTime: 5, kyber: 2 });
    await api.uploadKeys({ oneTimePreKeys: fresh.oneTimePreKeys ?? [], kyberPreKeys: fresh.kyberPreKeys ?? [], signedPreKey: fresh.signedPreKey });
    expect(await api.keyCounts()).toEqual({ oneTime: 5, kyberOneTime: 2 });
  });

  it('refuses a key of the wrong kind before sending anything', async () => {
    const alice = await registerDevice(server);
    const fresh = await newDevice(alice.identity);
    const err = await rejectionOf(apiOf(alice).uploadKeys({ kyberPreKeys: [fresh.kyberLastResortPreKey] }));
    expect(codeOf(err)).toBe(ClientErrorCode.InvalidArgument);
  });

  it('maps a bad signature to BAD_SIGNATURE', async () => {
    const alice = await registerDevice(server);
    const mallory = await newIdentity();
    const foreign = await newDevice(mallory.identity);
    const err = await rejectionOf(apiOf(alice).uploadKeys({ signedPreKey: foreign.signedPreKey }));
    expect(ClientError.isServer(err, 'BAD_SIGNATURE')).toBe(true);
  });

  it('fetches the bundle of one device and of all devices, as verifiable PreKeyBundles', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server, { oneTimePreKeys: 1 });
    const bob2 = await linkDevice(server, bob, { oneTimePreKeys: 0 });
    const api = apiOf(alice);

    const one = await api.getPreKeyBundles(bob.accountId, 1);
    expect(one.identityKey).toEqual(encodeIdentityKey(bob.identity.publicKey));
    expect(one.devices).toHaveLength(1);
    const first = one.devices[0]!;
    expect(first).toMatchObject({ deviceId: 1, registrationId: bob.registrationId });
    expect(first.bundle.oneTimePreKey).toBeDefined();
    await verifyPreKeyBundle(crypto, first.bundle);

    const all = await api.getPreKeyBundles(bob.accountId, '*');
    expect(all.devices.map((d) => [d.deviceId, d.registrationId])).toEqual([
      [1, bob.registrationId],
      [2, bob2.registrationId],
    ]);
    for (const d of all.devices) {
      // Both one-time curve keys are used up now: the bundles go on without one (PQXDH §3.3).
      expect(d.bundle.oneTimePreKey).toBeUndefined();
      expect(d.bundle.deviceId).toBe(d.deviceId);
      await verifyPreKeyBundle(crypto, d.bundle);
    }
    expect(ClientError.isServer(await rejectionOf(api.getPreKeyBundles(bob.accountId, 9)), 'DEVICE_NOT_FOUND')).toBe(true);
  });
});

describe('HttpApi messages', () => {
  it('sends, fetches and acknowledges envelopes', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const envelopes = [testEnvelope(Uint8Array.of(1)), testEnvelope(Uint8Array.of(2))];
    const ids: bigint[] = [];
    for (const envelope of envelopes) {
      const sent = await apiOf(alice).sendMessages(bob.accountId, [{ deviceId: 1, registrationId: bob.registrationId, envelope }]);
      ids.push(...sent.ids);
    }
    expect(ids).toHaveLength(2);
    expect(ids[1]! > ids[0]!).toBe(true);

    const page = await apiOf(bob).fetchMessages();
    expect(page.more).toBe(false);
    expect(page.messages.map((m) => m.id)).toEqual(ids);
    expect(page.messages.map((m) => [...m.envelope])).toEqual(envelopes.map((e) => [...e]));
    expect(page.messages[0]?.source).toEqual({ accountId: alice.accountId, deviceId: 1 });
    expect(decodeEnvelope(page.messages[0]!.envelope).content).toEqual(Uint8Array.of(1));

    const after = await apiOf(bob).fetchMessages({ after: ids[0]! });
    expect(after.messages.map((m) => m.id)).toEqual([ids[1]]);

    const acked = await apiOf(bob).ackMessages([ids[0]!, 999_999_999n]);
    expect(acked).toEqual({ acknowledged: [ids[0]], unknown: [999_999_999n] });
    expect(await queuedIds(server, bob)).toEqual([ids[1]]);
  });

  it('long-polls: fetchMessages({ wait }) returns when an envelope arrives', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const polled = apiOf(bob).fetchMessages({ wait: 10 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [id] = await sendMessage(server, alice, [bob]);
    const page = await polled;
    expect(page.messages.map((m) => m.id)).toEqual([id]);
  });

  it('exposes the device lists of DEVICE_LIST_MISMATCH', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const envelope = testEnvelope();
    const err = await rejectionOf(
      apiOf(alice).sendMessages(bob.accountId, [
        { deviceId: 1, registrationId: bob.registrationId === 1 ? 2 : 1, envelope },
        { deviceId: 5, registrationId: 5, envelope },
      ]),
    );
    expect(ClientError.isServer(err, 'DEVICE_LIST_MISMATCH')).toBe(true);
    expect((err as ClientError).server?.status).toBe(409);
    expect(mismatchOf(err)).toEqual({ missingDevices: [bob2.deviceId], extraDevices: [5], staleDevices: [1] });
    expect(mismatchOf(new Error('other'))).toBeUndefined();
  });

  it('maps a send to an unknown account to ACCOUNT_NOT_FOUND', async () => {
    const alice = await registerDevice(server);
    const err = await rejectionOf(apiOf(alice).sendMessages('f'.repeat(32), [{ deviceId: 1, registrationId: 1, envelope: testEnvelope() }]));
    expect(ClientError.isServer(err, 'ACCOUNT_NOT_FOUND')).toBe(true);
  });
});

describe('HttpApi attachments', () => {
  it('uploads and downloads an attachment, reporting progress up to the total', async () => {
    const alice = await registerDevice(server);
    const data = new Uint8Array(randomBytes(MAX_ATTACHMENT - 1000));
    const up: [number, number][] = [];
    const stored = await apiOf(alice).uploadAttachment(data, (sent, total) => up.push([sent, total]));
    expect(stored.size).toBe(data.length);
    expect(stored.id).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.expiresAt).toBeGreaterThan(Date.now());
    expect(up[0]).toEqual([0, data.length]);
    expect(up.at(-1)).toEqual([data.length, data.length]);
    expect(up.length).toBeGreaterThan(3);
    for (let i = 1; i < up.length; i++) expect(up[i]![0]).toBeGreaterThan(up[i - 1]![0]);

    const down: [number, number][] = [];
    const bob = await registerDevice(server);
    const blob = await apiOf(bob).downloadAttachment(stored.id, (received, total) => down.push([received, total]));
    expect(Buffer.from(blob).equals(Buffer.from(data))).toBe(true);
    expect(down.at(-1)).toEqual([data.length, data.length]);

    const tooBig = await rejectionOf(apiOf(bob).downloadAttachment(stored.id, undefined, { maxBytes: 1000 }));
    expect(codeOf(tooBig)).toBe(ClientErrorCode.BadResponse);
  });

  it('maps an oversized upload to ATTACHMENT_TOO_LARGE and an unknown id to ATTACHMENT_NOT_FOUND', async () => {
    const alice = await registerDevice(server);
    const err = await rejectionOf(apiOf(alice).uploadAttachment(new Uint8Array(MAX_ATTACHMENT + 1)));
    expect(ClientError.isServer(err, 'ATTACHMENT_TOO_LARGE')).toBe(true);
    expect(ClientError.isServer(await rejectionOf(apiOf(alice).downloadAttachment('a'.repeat(64))), 'ATTACHMENT_NOT_FOUND')).toBe(true);
  });
});

describe('HttpApi failures', () => {
  it('maps a closed port to SERVER_UNREACHABLE', async () => {
    const port = await closedPort();
    const err = await rejectionOf(apiOf(undefined, `http://127.0.0.1:${port}`).register({ identityKey: (await newIdentity()).identityKey, device: await newDevice((await newIdentity()).identity) }));
    expect(codeOf(err)).toBe(ClientErrorCode.ServerUnreachable);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('maps a server that never answers to SERVER_UNREACHABLE after the timeout, and a cancelled request to CLOSED', async () => {
    const silent = await fakeServer(() => undefined);
    try {
      const alice = await registerDevice(server);
      const api = new HttpApi({ connector, serverUrl: silent.url, credentials: credentialsOf(alice), timeoutMs: 200 });
      const started = Date.now();
      expect(codeOf(await rejectionOf(api.me()))).toBe(ClientErrorCode.ServerUnreachable);
      expect(Date.now() - started).toBeLessThan(5000);

      const controller = new AbortController();
      const fetching = api.fetchMessages({ wait: 5, signal: controller.signal });
      controller.abort();
      expect(codeOf(await rejectionOf(fetching))).toBe(ClientErrorCode.Closed);
    } finally {
      await silent.close();
    }
  });

  it('maps answers of the wrong shape to BAD_RESPONSE', async () => {
    const alice = await registerDevice(server);
    const cases: [number, unknown, (api: HttpApi) => Promise<unknown>][] = [
      [200, 'not json', (api) => api.keyCounts()],
      [200, { oneTime: '5', kyberOneTime: 1 }, (api) => api.keyCounts()],
      [200, { oneTime: -1, kyberOneTime: 1 }, (api) => api.keyCounts()],
      [200, [], (api) => api.listDevices()],
      [200, { accountId: alice.accountId, deviceId: 1, identityKey: 'AAAA', hasUsername: false }, (api) => api.me()],
      [200, { accountId: 'f'.repeat(32), deviceId: 1, identityKey: Buffer.from(encodeIdentityKey(alice.identity.publicKey)).toString('base64'), hasUsername: false }, (api) => api.me()],
      [200, { stored: 1, ids: ['x'] }, (api) => api.sendMessages(alice.accountId, [{ deviceId: 2, registrationId: 1, envelope: testEnvelope() }])],
      [200, { stored: 1, ids: [] }, (api) => api.sendMessages(alice.accountId, [{ deviceId: 2, registrationId: 1, envelope: testEnvelope() }])],
      [200, { messages: [{ id: '2', envelope: 'AA==', receivedAt: 1 }, { id: '1', envelope: 'AA==', receivedAt: 1 }], more: false }, (api) => api.fetchMessages()],
      [200, { identityKey: Buffer.from(encodeIdentityKey(alice.identity.publicKey)).toString('base64'), devices: [{ deviceId: 1, registrationId: 1, signedPreKey: { keyId: 1, publicKey: 'AAAA', signature: 'AAAA' }, kyberPreKey: {} }] }, (api) => api.getPreKeyBundles(alice.accountId, 1)],
      [500, '<html>oops</html>', (api) => api.keyCounts()],
      [409, { code: 'DEVICE_LIST_MISMATCH', message: 'x', missingDevices: 'all' }, (api) => api.sendMessages(alice.accountId, [{ deviceId: 2, registrationId: 1, envelope: testEnvelope() }])],
    ];
    for (const [status, body, call] of cases) {
      const fake = await answering(status, body);
      try {
        const err = await rejectionOf(call(new HttpApi({ connector, serverUrl: fake.url, credentials: credentialsOf(alice) })));
        expect({ body, code: codeOf(err) }).toEqual({ body, code: ClientErrorCode.BadResponse });
      } finally {
        await fake.close();
      }
    }
  });

  it('does not follow a redirect (it answers BAD_RESPONSE)', async () => {
    const alice = await registerDevice(server);
    const redirecting = await fakeServer((request, response) => {
      if (request.url === '/elsewhere') response.writeHead(200, { 'content-type': 'application/json' }).end('{"oneTime":1,"kyberOneTime":1}');
      else response.writeHead(307, { location: '/elsewhere' }).end();
    });
    try {
      const api = new HttpApi({ connector, serverUrl: redirecting.url, credentials: credentialsOf(alice) });
      expect(codeOf(await rejectionOf(api.keyCounts()))).toBe(ClientErrorCode.BadResponse);
    } finally {
      await redirecting.close();
    }
  });

  it('maps a gateway error page to SERVER_UNREACHABLE and an error code from any server to SERVER_ERROR', async () => {
    const alice = await registerDevice(server);
    const gateway = await answering(502, '<html>Bad Gateway</html>');
    const limited = await answering(429, { code: 'RATE_LIMITED', message: 'slow down', retryAfter: 3 });
    try {
      const err = await rejectionOf(new HttpApi({ connector, serverUrl: gateway.url, credentials: credentialsOf(alice) }).keyCounts());
      expect(codeOf(err)).toBe(ClientErrorCode.ServerUnreachable);
      const rate = await rejectionOf(new HttpApi({ connector, serverUrl: limited.url, credentials: credentialsOf(alice) }).keyCounts());
      expect((rate as ClientError).server).toEqual({ code: 'RATE_LIMITED', status: 429, details: { retryAfter: 3 } });
      expect((rate as Error).message).not.toContain('slow down');
    } finally {
      await gateway.close();
      await limited.close();
    }
  });

  it('refuses a download larger than maxBytes before reading it, and one of unannounced size', async () => {
    const alice = await registerDevice(server);
    const blobs = await fakeServer((request, response) => {
      const announced = request.url?.endsWith('a'.repeat(64)) ?? false;
      response.writeHead(200, { 'content-type': 'application/octet-stream', ...(announced ? { 'content-length': '4096' } : {}) });
      response.end(Buffer.alloc(4096));
    });
    try {
      const api = new HttpApi({ connector, serverUrl: blobs.url, credentials: credentialsOf(alice) });
      expect(codeOf(await rejectionOf(api.downloadAttachment('a'.repeat(64), undefined, { maxBytes: 100 })))).toBe(ClientErrorCode.BadResponse);
      expect((await api.downloadAttachment('a'.repeat(64), undefined, { maxBytes: 4096 })).length).toBe(4096);
      expect(codeOf(await rejectionOf(api.downloadAttachment('b'.repeat(64))))).toBe(ClientErrorCode.BadResponse);
    } finally {
      await blobs.close();
    }
  });

  it('never sends private key halves', async () => {
    const alice = await registerDevice(server);
    const bodies: string[] = [];
    const recorder = await fakeServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        bodies.push(text);
        response.writeHead(204).end();
      });
    });
    try {
      const fresh = await newDevice(alice.identity);
      const oneTime = await generateOneTimePreKeys(crypto, 1, 1);
      const api = new HttpApi({ connector, serverUrl: recorder.url, credentials: credentialsOf(alice) });
      await api.uploadKeys({ signedPreKey: fresh.signedPreKey, kyberLastResortPreKey: fresh.kyberLastResortPreKey, oneTimePreKeys: oneTime });
      const sent = bodies.join('');
      for (const secret of [fresh.signedPreKey.keyPair.privateKey, fresh.kyberLastResortPreKey.keyPair.privateKey, oneTime[0]!.keyPair.privateKey]) {
        expect(sent).not.toContain(Buffer.from(secret).toString('base64'));
        expect(sent).not.toContain(Buffer.from(secret.subarray(0, 24)).toString('base64'));
      }
      expect(sent).toContain(Buffer.from(fresh.signedPreKey.keyPair.publicKey).toString('base64'));
    } finally {
      await recorder.close();
    }
  });
});
