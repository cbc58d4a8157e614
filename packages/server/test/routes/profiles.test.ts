/**
 * Encrypted profiles (routes/profiles.ts): a device replaces its account's profile ciphertexts and version; anyone
 * who presents the current version fetches them without credentials; every miss — another version, an account with
 * no profile, no such account — is the same PROFILE_NOT_FOUND; a new version replaces the old one, which stops
 * working; oversized fields, malformed versions and unauthenticated writes are refused and change nothing; deleting
 * the account deletes its profile.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxProfileCiphertext } from '@samizdat/protocol';
import { api, apiOk, registerDevice, startServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { b64, expectError } from '../helpers/http.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.close();
});

const bytes = (n: number) => new Uint8Array(randomBytes(n));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('profiles', () => {
  it('stores the ciphertexts under their version and hands them to whoever presents it, with no credentials', async () => {
    const alice = await registerDevice(server);
    const version = bytes(32);
    const profile = { version: b64(version), name: b64(bytes(188)), about: b64(bytes(188)), avatar: b64(bytes(5000)) };
    const put = await api(server, 'PUT', '/v1/profile', { auth: alice, body: profile });
    expect(put.status).toBe(204);
    const got = await apiOk(server, 'GET', `/v1/profile/${alice.accountId}/${hex(version)}`);
    expect(got).toEqual({ name: profile.name, about: profile.about, avatar: profile.avatar });

    // Another version, an account without a profile and an account that does not exist answer alike.
    const bob = await registerDevice(server);
    for (const path of [`/v1/profile/${alice.accountId}/${hex(bytes(32))}`, `/v1/profile/${bob.accountId}/${hex(version)}`, `/v1/profile/${'c'.repeat(32)}/${hex(version)}`]) {
      expectError(await api(server, 'GET', path), 'PROFILE_NOT_FOUND');
    }
    expect((await api(server, 'GET', `/v1/profile/${alice.accountId}/not-hex`)).status).toBe(400);

    // A new key: the new version replaces the old one, which stops working; fields left out are gone.
    const next = bytes(32);
    await apiOk(server, 'PUT', '/v1/profile', { auth: alice, body: { version: b64(next), name: profile.name } });
    expectError(await api(server, 'GET', `/v1/profile/${alice.accountId}/${hex(version)}`), 'PROFILE_NOT_FOUND');
    expect(await apiOk(server, 'GET', `/v1/profile/${alice.accountId}/${hex(next)}`)).toEqual({ name: profile.name });

    // Deleting the account deletes its profile.
    await apiOk(server, 'DELETE', '/v1/accounts/me', { auth: alice });
    expectError(await api(server, 'GET', `/v1/profile/${alice.accountId}/${hex(next)}`), 'PROFILE_NOT_FOUND');
  });

  it('refuses writes without credentials, malformed versions and oversized fields, and keeps what was stored', async () => {
    const carol = await registerDevice(server);
    const version = bytes(32);
    const name = b64(bytes(188));
    await apiOk(server, 'PUT', '/v1/profile', { auth: carol, body: { version: b64(version), name } });
    expectError(await api(server, 'PUT', '/v1/profile', { body: { version: b64(bytes(32)) } }), 'UNAUTHORIZED');
    expectError(await api(server, 'PUT', '/v1/profile', { auth: carol, body: { version: b64(bytes(31)) } }), 'INVALID_KEY');
    const tooBig = await api(server, 'PUT', '/v1/profile', { auth: carol, body: { version: b64(bytes(32)), name: b64(bytes(maxProfileCiphertext('name') + 1)) } });
    expect(tooBig.status).toBe(400);
    expect((await api(server, 'PUT', '/v1/profile', { auth: carol, body: { version: b64(bytes(32)), extra: 'x' } })).status).toBe(400);
    expect(await apiOk(server, 'GET', `/v1/profile/${carol.accountId}/${hex(version)}`)).toEqual({ name });
  });
});
