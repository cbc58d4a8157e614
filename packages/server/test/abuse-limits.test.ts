/**
 * What one account can make the server hand out or keep (issue 14), each attack reproduced through the HTTP API on
 * each store engine: draining a device's one-time prekeys (160 fetches took its 100 + 40 one-time keys in 2 s), a
 * KeyPackage claim flood, a username lookup flood (1,000 lookups in 2.8 s), and storage past the per-account quotas
 * of attachments and groups. The clock is the test's: budgets refill only when it moves.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeIdentityKey, verifyPreKeyBundle } from '@samizdat/protocol';
import { DEFAULT_LIMITS } from '../src/config.js';
import type { Limits } from '../src/config.js';
import { TEST_POSTGRES_URL, api, apiOk, crypto, registerDevice, startServer } from './helpers/server.js';
import type { ApiResponse, StartServerOptions, TestDevice, TestServer } from './helpers/server.js';
import { b64, expectError, rawRequest } from './helpers/http.js';
import { MlsTestGroup } from './helpers/mls-group.js';

const engines: [string, StartServerOptions][] = [
  ['SQLite', {}],
  ['PostgreSQL', { databaseUrl: TEST_POSTGRES_URL }],
];

interface BundleDevice {
  deviceId: number;
  signedPreKey: { keyId: number; publicKey: string; signature: string };
  oneTimePreKey?: { keyId: number; publicKey: string };
  kyberPreKey: { keyId: number; publicKey: string; signature: string };
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const newAccountId = () => randomBytes(16).toString('hex');
const statuses = (responses: readonly ApiResponse[]) => responses.map((r) => r.status);
const count = (values: readonly number[], value: number) => values.filter((v) => v === value).length;

/** Asserts a RATE_LIMITED answer whose Retry-After header and body agree, and returns the seconds. */
function retryAfterOf(res: ApiResponse): number {
  const body = expectError(res, 'RATE_LIMITED');
  const seconds = Number(res.headers.get('retry-after'));
  expect(seconds).toBeGreaterThan(0);
  expect(body.retryAfter).toBe(seconds);
  return seconds;
}

describe.each(engines)('abuse limits on %s', (_engine, engineOptions) => {
  let server: TestServer | undefined;
  let clock = Date.now();

  async function start(limits: Partial<Limits> = {}): Promise<TestServer> {
    clock = Date.now();
    server = await startServer({ ...engineOptions, logLevel: 'warn', now: () => clock, limits });
    return server;
  }

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  describe('prekey bundles', () => {
    it("stops one account draining a device's one-time prekeys: a burst, then RATE_LIMITED with Retry-After", async () => {
      const s = await start();
      const alice = await registerDevice(s);
      const bob = await registerDevice(s, { oneTimePreKeys: 100, kyberPreKeys: 40 });
      const fetchBob = (by: TestDevice, device: number | '*' = 1) => api(s, 'GET', `/v1/keys/${bob.accountId}/${device}`, { auth: by });

      // The attack as measured: 160 fetches by one account, here all at once.
      const flood = await Promise.all(Array.from({ length: 160 }, () => fetchBob(alice)));
      const burst = DEFAULT_LIMITS.bundlesPerTargetBurst;
      expect(count(statuses(flood), 200)).toBe(burst);
      expect(count(statuses(flood), 429)).toBe(160 - burst);
      const limited = flood.find((r) => r.status === 429);
      const seconds = retryAfterOf(limited!);
      expect(seconds).toBe(Math.ceil(60 / DEFAULT_LIMITS.bundlesPerTargetPerMinute));
      // The refused fetches consumed nothing.
      expect(await apiOk(s, 'GET', '/v1/keys/count', { auth: bob })).toEqual({ oneTime: 100 - burst, kyberOneTime: 40 - burst });
      expectError(await fetchBob(alice, '*'), 'RATE_LIMITED');

      // The budget is per pair: another account still reaches Bob, and Alice reaches others.
      const carol = await registerDevice(s);
      expect((await fetchBob(carol)).status).toBe(200);
      expect((await api(s, 'GET', `/v1/keys/${carol.accountId}/1`, { auth: alice })).status).toBe(200);

      // It refills at the configured rate: one fetch per Retry-After.
      clock += seconds * 1000;
      expect((await fetchBob(alice)).status).toBe(200);
      expectError(await fetchBob(alice), 'RATE_LIMITED');
      expect(await apiOk(s, 'GET', '/v1/keys/count', { auth: bob })).toEqual({ oneTime: 100 - burst - 2, kyberOneTime: 40 - burst - 2 });
    });

    it("does not count an account's fetches of its own devices", async () => {
      const s = await start();
      const alice = await registerDevice(s, { oneTimePreKeys: 50 });
      const own = await Promise.all(Array.from({ length: 40 }, () => api(s, 'GET', `/v1/keys/${alice.accountId}/1`, { auth: alice })));
      expect(new Set(statuses(own))).toEqual(new Set([200]));
      expect((await apiOk(s, 'GET', '/v1/keys/count', { auth: alice })).oneTime).toBe(10);
    });

    it('limits how many accounts one account fetches bundles from, unknown ones included', async () => {
      const s = await start();
      const alice = await registerDevice(s);
      const bob = await registerDevice(s);
      const burst = DEFAULT_LIMITS.bundleTargetsBurst;
      const scan = [];
      for (let i = 0; i < burst; i++) scan.push(await api(s, 'GET', `/v1/keys/${newAccountId()}/1`, { auth: alice }));
      expect(new Set(scan.map((r) => (r.body as { code: string }).code))).toEqual(new Set(['ACCOUNT_NOT_FOUND']));
      retryAfterOf(await api(s, 'GET', `/v1/keys/${bob.accountId}/1`, { auth: alice }));
      // Bob's keys are untouched, and another account reaches him.
      expect(await apiOk(s, 'GET', '/v1/keys/count', { auth: bob })).toEqual({ oneTime: 2, kyberOneTime: 1 });
      expect((await api(s, 'GET', `/v1/keys/${bob.accountId}/1`, { auth: await registerDevice(s) })).status).toBe(200);
      clock += 60_000;
      expect((await api(s, 'GET', `/v1/keys/${bob.accountId}/1`, { auth: alice })).status).toBe(200);
    });

    it("falls back to the last-resort keys once a device's one-time keys are gone, and every bundle verifies", async () => {
      const s = await start();
      const alice = await registerDevice(s);
      const bob = await registerDevice(s, { oneTimePreKeys: 3, kyberPreKeys: 1 });
      const seen: [number | undefined, number][] = [];
      for (let i = 0; i < 5; i++) {
        const bundle = await apiOk<{ identityKey: string; devices: BundleDevice[] }>(s, 'GET', `/v1/keys/${bob.accountId}/${i % 2 ? '*' : 1}`, { auth: alice });
        const [device] = bundle.devices;
        if (!device) throw new Error('no bundle');
        seen.push([device.oneTimePreKey?.keyId, device.kyberPreKey.keyId]);
        await verifyPreKeyBundle(crypto, {
          identityKey: decodeIdentityKey(bytes(bundle.identityKey)),
          deviceId: device.deviceId,
          signedPreKey: { id: device.signedPreKey.keyId, publicKey: bytes(device.signedPreKey.publicKey), signature: bytes(device.signedPreKey.signature) },
          kyberPreKey: { id: device.kyberPreKey.keyId, publicKey: bytes(device.kyberPreKey.publicKey), signature: bytes(device.kyberPreKey.signature) },
        });
      }
      // One-time ML-KEM key 100, then the last-resort one (id 1); curve keys 100–102, then none (PQXDH allows it).
      expect(seen).toEqual([
        [100, 100],
        [101, 1],
        [102, 1],
        [undefined, 1],
        [undefined, 1],
      ]);
      expect(await apiOk(s, 'GET', '/v1/keys/count', { auth: bob })).toEqual({ oneTime: 0, kyberOneTime: 0 });
    });
  });

  describe('KeyPackage claims', () => {
    const claim = (s: TestServer, by: TestDevice, accountIds: string[]) => api(s, 'POST', '/v1/groups/key-packages/claim', { auth: by, body: { accountIds } });

    it("stops one account claiming away another's KeyPackages", async () => {
      const s = await start();
      const alice = await registerDevice(s);
      const bob = await registerDevice(s);
      const packages = Array.from({ length: 100 }, (_, i) => b64(Uint8Array.of(1, i)));
      expect((await api(s, 'PUT', '/v1/groups/key-packages', { auth: bob, body: { keyPackages: packages, lastResort: b64(Uint8Array.of(2)) } })).status).toBe(204);

      const flood = await Promise.all(Array.from({ length: 100 }, () => claim(s, alice, [bob.accountId])));
      const burst = DEFAULT_LIMITS.keyPackageClaimsPerTargetBurst;
      expect(count(statuses(flood), 200)).toBe(burst);
      expect(count(statuses(flood), 429)).toBe(100 - burst);
      retryAfterOf(flood.find((r) => r.status === 429)!);
      expect(await apiOk(s, 'GET', '/v1/groups/key-packages/count', { auth: bob })).toEqual({ count: 100 - burst });

      // All or nothing: a claim naming Bob among others takes nobody's package.
      const carol = await registerDevice(s);
      await apiOk(s, 'PUT', '/v1/groups/key-packages', { auth: carol, body: { keyPackages: [b64(Uint8Array.of(3))] } });
      expectError(await claim(s, alice, [carol.accountId, bob.accountId]), 'RATE_LIMITED');
      expect(await apiOk(s, 'GET', '/v1/groups/key-packages/count', { auth: carol })).toEqual({ count: 1 });
      // Per pair: another claimer still gets one of Bob's.
      expect((await apiOk<{ keyPackages: unknown[] }>(s, 'POST', '/v1/groups/key-packages/claim', { auth: carol, body: { accountIds: [bob.accountId] } })).keyPackages).toHaveLength(1);
    });

    it('limits how many accounts one account claims from', async () => {
      const s = await start({ keyPackageTargetsBurst: 150 });
      const alice = await registerDevice(s);
      const strangers = (n: number) => Array.from({ length: n }, newAccountId);
      const first = strangers(100);
      expect((await claim(s, alice, first)).status).toBe(200);
      retryAfterOf(await claim(s, alice, strangers(100)));
      // Accounts claimed from lately cost nothing more of that budget; 50 new ones are what is left of it.
      expect((await claim(s, alice, first)).status).toBe(200);
      expect((await claim(s, alice, strangers(50))).status).toBe(200);
      expectError(await claim(s, alice, strangers(1)), 'RATE_LIMITED');
    });
  });

  describe('username lookups', () => {
    it('stops a lookup flood after a burst, found or not', async () => {
      const s = await start();
      const alice = await registerDevice(s);
      const bob = await registerDevice(s, { username: `bob${randomBytes(3).toString('hex')}` });
      const lookup = (by: TestDevice, username: string) => api(s, 'POST', '/v1/accounts/lookup', { auth: by, body: { username } });
      const burst = DEFAULT_LIMITS.usernameLookupsBurst;
      const answers: ApiResponse[] = [];
      // 150 guesses, 25 at a time.
      for (let i = 0; i < 150; i += 25) {
        answers.push(...(await Promise.all(Array.from({ length: 25 }, (_, j) => lookup(alice, `guess${i + j}`)))));
      }
      expect(count(statuses(answers), 404)).toBe(burst);
      expect(count(statuses(answers), 429)).toBe(150 - burst);
      const seconds = retryAfterOf(answers.at(-1)!);
      expect(seconds).toBe(Math.ceil(60 / DEFAULT_LIMITS.usernameLookupsPerMinute));
      // Even a username that exists is refused now; the budget is per account, so Bob's own lookups work.
      expectError(await lookup(alice, 'bob'), 'RATE_LIMITED');
      expect((await lookup(bob, 'nobody')).status).toBe(404);
      clock += seconds * 1000;
      expect((await lookup(alice, 'nobody')).status).toBe(404);
      expectError(await lookup(alice, 'nobody'), 'RATE_LIMITED');
    });
  });

  describe('attachment quota', () => {
    const octets = { 'content-type': 'application/octet-stream' };
    const upload = (s: TestServer, by: TestDevice, size: number) =>
      rawRequest(s, 'POST', '/v1/attachments', { auth: by, body: new Uint8Array(randomBytes(size)), headers: octets });
    const blobFiles = (s: TestServer) => {
      const dir = join(s.dataDir, 'blobs');
      return [...readdirSync(dir).filter((f) => f !== 'tmp'), ...readdirSync(join(dir, 'tmp')).map((f) => `tmp/${f}`)];
    };

    it('refuses an upload past the count or bytes of live attachments, stores nothing of it, and frees quota on expiry', async () => {
      const s = await start({ maxAttachmentsPerAccount: 3, maxAttachmentBytesPerAccount: 10_000 });
      const alice = await registerDevice(s);
      for (let i = 0; i < 3; i++) expect((await upload(s, alice, 100)).status).toBe(200);
      const before = blobFiles(s);
      expect(expectError(await upload(s, alice, 100), 'QUOTA_EXCEEDED')).toMatchObject({ quota: 'attachments', limit: 3 });
      expect(blobFiles(s)).toEqual(before);
      // Another account's quota is its own.
      const bob = await registerDevice(s);
      expect((await upload(s, bob, 9_000)).status).toBe(200);
      // Bytes: refused from the announced length, and cut off where a streamed body passes the quota.
      expect(expectError(await upload(s, bob, 1_001), 'QUOTA_EXCEEDED')).toMatchObject({ quota: 'attachmentBytes', limit: 10_000 });
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array(800));
          controller.enqueue(new Uint8Array(800));
          controller.close();
        },
      });
      const streamed = await rawRequest(s, 'POST', '/v1/attachments', { auth: bob, body: chunked, headers: octets });
      expect(expectError(streamed, 'QUOTA_EXCEEDED')).toMatchObject({ quota: 'attachmentBytes' });
      expect((await upload(s, bob, 1_000)).status).toBe(200);
      expect(blobFiles(s)).toHaveLength(before.length + 2);

      // Expired attachments count no more, before the sweep has deleted them.
      clock += DEFAULT_LIMITS.attachmentTtlMs + 3_600_000;
      expect((await upload(s, alice, 100)).status).toBe(200);
      expect((await upload(s, bob, 9_500)).status).toBe(200);
    });

    it('lets no concurrent burst of uploads past the quota', async () => {
      const s = await start({ maxAttachmentsPerAccount: 4 });
      const alice = await registerDevice(s);
      const answers = await Promise.all(Array.from({ length: 16 }, () => upload(s, alice, 1_000)));
      expect(count(statuses(answers), 200)).toBe(4);
      for (const res of answers.filter((r) => r.status !== 200)) expectError(res, 'QUOTA_EXCEEDED');
      // The losers' blobs are gone too.
      expect(blobFiles(s)).toHaveLength(4);
    });
  });

  describe('group quota', () => {
    const register = async (s: TestServer, by: TestDevice) => {
      const { group, groupInfo } = await MlsTestGroup.unregistered(by);
      const res = await api(s, 'POST', '/v1/groups', { auth: by, body: { groupId: group.groupId, epoch: 0, groupInfo: b64(groupInfo) } });
      return { group, res };
    };

    it('refuses a group past the groups an account created and is in; leaving one frees it', async () => {
      const s = await start({ maxGroupsPerAccount: 2 });
      const alice = await registerDevice(s);
      const bob = await registerDevice(s);
      const first = await MlsTestGroup.create(s, alice);
      await MlsTestGroup.create(s, alice);
      const { group, res } = await register(s, alice);
      expect(expectError(res, 'QUOTA_EXCEEDED')).toMatchObject({ quota: 'groups', limit: 2 });
      expectError(await api(s, 'GET', `/v1/groups/${group.groupId}`, { auth: alice }), 'GROUP_NOT_FOUND');
      expect((await apiOk<{ groups: unknown[] }>(s, 'GET', '/v1/groups', { auth: alice })).groups).toHaveLength(2);
      // Bob's quota is his own.
      expect((await register(s, bob)).res.status).toBe(204);

      // Bob joins Alice's first group and removes her from it: it is his now, and Alice has room for one more.
      await first.post(s, await first.add(alice, [bob]));
      await first.post(s, await first.remove(bob, [alice]));
      expect((await register(s, alice)).res.status).toBe(204);
      expectError((await register(s, alice)).res, 'QUOTA_EXCEEDED');
    });

    it('lets no concurrent burst of creations past the quota', async () => {
      const s = await start({ maxGroupsPerAccount: 3 });
      const alice = await registerDevice(s);
      const prepared = await Promise.all(Array.from({ length: 10 }, () => MlsTestGroup.unregistered(alice)));
      const answers = await Promise.all(
        prepared.map(({ group, groupInfo }) => api(s, 'POST', '/v1/groups', { auth: alice, body: { groupId: group.groupId, epoch: 0, groupInfo: b64(groupInfo) } })),
      );
      expect(count(statuses(answers), 204)).toBe(3);
      for (const res of answers.filter((r) => r.status !== 204)) expectError(res, 'QUOTA_EXCEEDED');
      expect((await apiOk<{ groups: unknown[] }>(s, 'GET', '/v1/groups', { auth: alice })).groups).toHaveLength(3);
    });

    it("refuses a new group's GroupInfo past maxNewGroupInfoBytes before reading it", async () => {
      const s = await start();
      const alice = await registerDevice(s);
      const { group, groupInfo } = await MlsTestGroup.unregistered(alice);
      expect(groupInfo.length).toBeLessThan(DEFAULT_LIMITS.maxNewGroupInfoBytes / 8);
      const padded = new Uint8Array(DEFAULT_LIMITS.maxNewGroupInfoBytes + 1024);
      padded.set(groupInfo);
      const res = await api(s, 'POST', '/v1/groups', { auth: alice, body: { groupId: group.groupId, epoch: 0, groupInfo: b64(padded) } });
      expectError(res, 'PAYLOAD_TOO_LARGE');
      expect((await apiOk<{ groups: unknown[] }>(s, 'GET', '/v1/groups', { auth: alice })).groups).toHaveLength(0);
    });
  });
});
