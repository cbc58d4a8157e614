import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeIdentityKey,
  encodeIdentityKey,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
  verifyPreKeyBundle,
} from '@samizdat/protocol';
import { SQLITE_FILE_NAME } from '../../src/store/open-repository.js';
import { api, apiOk, crypto, linkDevice, registerDevice, startServer } from '../helpers/server.js';
import type { TestDevice, TestServer } from '../helpers/server.js';
import { b64, expectError, rawRequest } from '../helpers/http.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

interface BundleDevice {
  deviceId: number;
  registrationId: number;
  signedPreKey: { keyId: number; publicKey: string; signature: string };
  oneTimePreKey?: { keyId: number; publicKey: string };
  kyberPreKey: { keyId: number; publicKey: string; signature: string };
}

async function bundles(requester: TestDevice, accountId: string, device: number | '*'): Promise<{ identityKey: string; devices: BundleDevice[] }> {
  return apiOk(server, 'GET', `/v1/keys/${accountId}/${device}`, { auth: requester });
}

async function counts(device: TestDevice): Promise<{ oneTime: number; kyberOneTime: number }> {
  return apiOk(server, 'GET', '/v1/keys/count', { auth: device });
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

/** Real keys, as the JSON of PUT /v1/keys, signed by `device`'s account identity (or `signer`). */
async function upload(device: TestDevice, options: { firstId?: number; oneTime?: number; kyber?: number; signed?: boolean; signer?: TestDevice['identity'] } = {}) {
  const signer = options.signer ?? device.identity;
  const firstId = options.firstId ?? 500;
  const oneTime = await generateOneTimePreKeys(crypto, firstId, options.oneTime ?? 0);
  const kyber = await Promise.all(
    Array.from({ length: options.kyber ?? 0 }, (_, i) => generateKyberPreKey(crypto, signer, firstId + i, false, Date.now())),
  );
  const signed = options.signed ? await generateSignedPreKey(crypto, signer, firstId, Date.now()) : undefined;
  return {
    ...(signed ? { signedPreKey: { keyId: signed.id, publicKey: b64(signed.keyPair.publicKey), signature: b64(signed.signature) } } : {}),
    ...(oneTime.length ? { oneTimePreKeys: oneTime.map((k) => ({ keyId: k.id, publicKey: b64(k.keyPair.publicKey) })) } : {}),
    ...(kyber.length ? { kyberPreKeys: kyber.map((k) => ({ keyId: k.id, publicKey: b64(k.keyPair.publicKey), signature: b64(k.signature) })) } : {}),
  };
}

describe('GET /v1/keys/:accountId/:deviceId', () => {
  it('hands out a bundle that verifies, consuming one one-time key of each kind, and reports the counts left', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server, { oneTimePreKeys: 2, kyberPreKeys: 1 });
    expect(await counts(bob)).toEqual({ oneTime: 2, kyberOneTime: 1 });

    const first = await bundles(alice, bob.accountId, 1);
    expect(first.identityKey).toBe(b64(encodeIdentityKey(bob.identity.publicKey)));
    const [device] = first.devices;
    if (!device) throw new Error('no bundle');
    expect(device).toMatchObject({ deviceId: 1, registrationId: bob.registrationId, oneTimePreKey: { keyId: 100 }, kyberPreKey: { keyId: 100 } });
    await verifyPreKeyBundle(crypto, {
      identityKey: decodeIdentityKey(bytes(first.identityKey)),
      deviceId: device.deviceId,
      signedPreKey: { id: device.signedPreKey.keyId, publicKey: bytes(device.signedPreKey.publicKey), signature: bytes(device.signedPreKey.signature) },
      kyberPreKey: { id: device.kyberPreKey.keyId, publicKey: bytes(device.kyberPreKey.publicKey), signature: bytes(device.kyberPreKey.signature) },
    });
    expect(await counts(bob)).toEqual({ oneTime: 1, kyberOneTime: 0 });

    // The one-time ML-KEM keys are gone: the last-resort key (id 1) stands in; the next curve key is handed out.
    const second = (await bundles(alice, bob.accountId, 1)).devices[0];
    expect(second).toMatchObject({ oneTimePreKey: { keyId: 101 }, kyberPreKey: { keyId: 1 } });
    expect(await counts(bob)).toEqual({ oneTime: 0, kyberOneTime: 0 });

    // Out of one-time curve keys: the bundle has none (PQXDH allows it), and the last-resort key is reused.
    const third = (await bundles(alice, bob.accountId, 1)).devices[0];
    expect(third).not.toHaveProperty('oneTimePreKey');
    expect(third?.kyberPreKey.keyId).toBe(1);
    expect(third?.signedPreKey).toEqual(device.signedPreKey);
  });

  it('returns a bundle for every device with "*", leaving out the requester’s own device', async () => {
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    const bob3 = await linkDevice(server, bob);
    const alice = await registerDevice(server);
    const all = await bundles(alice, bob.accountId, '*');
    expect(all.devices.map((d) => [d.deviceId, d.registrationId])).toEqual([
      [1, bob.registrationId],
      [2, bob2.registrationId],
      [3, bob3.registrationId],
    ]);
    expect(all.devices.every((d) => d.oneTimePreKey !== undefined)).toBe(true);
    const own = await bundles(bob2, bob.accountId, '*');
    expect(own.devices.map((d) => d.deviceId)).toEqual([1, 3]);
    expect(await counts(bob2)).toEqual({ oneTime: 1, kyberOneTime: 0 });
    expect(await counts(bob)).toEqual({ oneTime: 0, kyberOneTime: 0 });
  });

  it('answers PREKEYS_EXHAUSTED for a device without a signed prekey, and leaves it out of "*"', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const bob2 = await linkDevice(server, bob);
    // A device whose registration stopped between creating it and storing its keys (as after a crash).
    const db = new Database(join(server.dataDir, SQLITE_FILE_NAME));
    try {
      db.prepare('DELETE FROM signed_prekeys WHERE account_id = ? AND device_id = 2').run(bob.accountId);
    } finally {
      db.close();
    }
    expectError(await api(server, 'GET', `/v1/keys/${bob.accountId}/2`, { auth: alice }), 'PREKEYS_EXHAUSTED');
    expect((await bundles(alice, bob.accountId, '*')).devices.map((d) => d.deviceId)).toEqual([1]);
    // Nothing was consumed by the failed fetch; a new signed prekey makes the device reachable again.
    expect(await counts(bob2)).toEqual({ oneTime: 2, kyberOneTime: 1 });
    expect((await api(server, 'PUT', '/v1/keys', { auth: bob2, body: await upload(bob2, { signed: true }) })).status).toBe(204);
    expect((await bundles(alice, bob.accountId, 2)).devices[0]?.oneTimePreKey?.keyId).toBe(100);
  });

  it('answers unknown accounts and devices, malformed paths and missing credentials with their codes', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    expectError(await api(server, 'GET', `/v1/keys/${randomBytes(16).toString('hex')}/1`, { auth: alice }), 'ACCOUNT_NOT_FOUND');
    expectError(await api(server, 'GET', `/v1/keys/${randomBytes(16).toString('hex')}/*`, { auth: alice }), 'ACCOUNT_NOT_FOUND');
    expectError(await api(server, 'GET', `/v1/keys/${bob.accountId}/2`, { auth: alice }), 'DEVICE_NOT_FOUND');
    for (const path of [`${bob.accountId}/0`, `${bob.accountId}/x`, `${bob.accountId}/10000`, `${bob.accountId.slice(1)}/1`, `${bob.accountId}/**`]) {
      expectError(await api(server, 'GET', `/v1/keys/${path}`, { auth: alice }), 'VALIDATION_FAILED');
    }
    expectError(await api(server, 'GET', `/v1/keys/${bob.accountId}/1`), 'UNAUTHORIZED');
    expect(await counts(bob)).toEqual({ oneTime: 2, kyberOneTime: 1 });
  });
});

describe('PUT /v1/keys', () => {
  it('adds one-time keys and replaces the signed prekey', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server, { oneTimePreKeys: 0, kyberPreKeys: 0 });
    expect(await counts(bob)).toEqual({ oneTime: 0, kyberOneTime: 0 });
    const keys = await upload(bob, { oneTime: 5, kyber: 2, signed: true });
    expect((await api(server, 'PUT', '/v1/keys', { auth: bob, body: keys })).status).toBe(204);
    expect(await counts(bob)).toEqual({ oneTime: 5, kyberOneTime: 2 });
    const [device] = (await bundles(alice, bob.accountId, 1)).devices;
    expect(device?.signedPreKey).toEqual(keys.signedPreKey);
    expect(device?.oneTimePreKey).toEqual(keys.oneTimePreKeys?.[0]);
    expect(device?.kyberPreKey).toEqual(keys.kyberPreKeys?.[0]);
    // Uploading the same ids again replaces them instead of adding more.
    expect((await api(server, 'PUT', '/v1/keys', { auth: bob, body: await upload(bob, { firstId: 501, oneTime: 4 }) })).status).toBe(204);
    expect(await counts(bob)).toEqual({ oneTime: 4, kyberOneTime: 1 });
  });

  it('rejects bad uploads with their codes and keeps the keys it had', async () => {
    const alice = await registerDevice(server);
    const bob = await registerDevice(server);
    const stranger = await generateIdentityKeyPair(crypto);
    const good = await upload(bob, { oneTime: 3, kyber: 1, signed: true });
    const tamper = (s: string) => {
      const b = Buffer.from(s, 'base64');
      b[10] = (b[10] as number) ^ 0x80;
      return b64(b);
    };
    const cases: [string, unknown][] = [
      ['BAD_SIGNATURE', { ...good, signedPreKey: { ...good.signedPreKey, signature: tamper(good.signedPreKey?.signature ?? '') } }],
      ['BAD_SIGNATURE', { ...good, kyberPreKeys: [{ ...good.kyberPreKeys?.[0], signature: tamper(good.kyberPreKeys?.[0]?.signature ?? '') }] }],
      ['BAD_SIGNATURE', await upload(bob, { signed: true, signer: stranger, oneTime: 3 })],
      ['BAD_SIGNATURE', await upload(bob, { kyber: 1, signer: stranger })],
      ['INVALID_KEY', { oneTimePreKeys: [{ keyId: 1, publicKey: b64(new Uint8Array(31)) }] }],
      ['INVALID_KEY', { ...good, kyberPreKeys: [{ ...good.kyberPreKeys?.[0], publicKey: b64(new Uint8Array(1567)) }] }],
      ['INVALID_BASE64', { oneTimePreKeys: [{ keyId: 1, publicKey: 'ab+_' }] }],
      ['VALIDATION_FAILED', { oneTimePreKeys: [{ keyId: 1, publicKey: 'not base64!' }] }],
      ['VALIDATION_FAILED', { oneTimePreKeys: [{ keyId: '1', publicKey: b64(new Uint8Array(32)) }] }],
      ['VALIDATION_FAILED', { oneTimePreKeys: [{ keyId: 2 ** 32, publicKey: b64(new Uint8Array(32)) }] }],
      ['VALIDATION_FAILED', { oneTimePreKeys: { keyId: 1, publicKey: b64(new Uint8Array(32)) } }],
      ['VALIDATION_FAILED', { ...good, identityKey: 'AAAA' }],
      ['VALIDATION_FAILED', await upload(bob, { firstId: 1000, oneTime: 101 })],
    ];
    for (const [code, body] of cases) expectError(await api(server, 'PUT', '/v1/keys', { auth: bob, body }), code as 'BAD_SIGNATURE');
    expectError(await rawRequest(server, 'PUT', '/v1/keys', { auth: bob, json: '{"oneTimePreKeys": [' }), 'INVALID_JSON');
    expectError(await api(server, 'PUT', '/v1/keys', { body: good }), 'UNAUTHORIZED');
    expectError(await api(server, 'GET', '/v1/keys/count'), 'UNAUTHORIZED');

    // Nothing of the rejected uploads was stored, not even their valid parts.
    expect(await counts(bob)).toEqual({ oneTime: 2, kyberOneTime: 1 });
    const [device] = (await bundles(alice, bob.accountId, 1)).devices;
    expect(device).toMatchObject({ signedPreKey: { keyId: 1 }, oneTimePreKey: { keyId: 100 }, kyberPreKey: { keyId: 100 } });
  });
});
